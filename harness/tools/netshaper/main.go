// galley-netshaper: netem's delay, jitter, loss, duplicate, reorder and rate for the packets a node
// sends to chosen peers, done in user space over NFQUEUE. Galley runs it on the host inside a node's
// network namespace (nsenter -n) when the kernel has no sch_netem; an iptables rule queues the packets
// to shape, and this program holds each one until it is due and accepts (or drops, or copies) it.
// Stdlib only: the netfilter-queue netlink protocol is small enough to speak directly.
//
//	usage: galley-netshaper --queue N [--config FILE|-] --watch-pid PID [--owner TEXT]
//
// Exits when the watched process (the node's init) is gone, and on SIGTERM after releasing every
// packet it holds at once. Prints one summary line per peer on exit.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Rule: what happens to packets for one destination address.
type Rule struct {
	To        string  `json:"to"`
	DelayMs   float64 `json:"delayMs"`
	JitterMs  float64 `json:"jitterMs"`
	Loss      float64 `json:"loss"`      // 0..1
	Duplicate float64 `json:"duplicate"` // 0..1
	Reorder   float64 `json:"reorder"`   // 0..1: sent at once, ahead of the delayed ones
	RateBps   float64 `json:"rateBps"`   // bits per second; 0 = unlimited
}

type Config struct {
	Seed  int64  `json:"seed"`
	Mark  uint32 `json:"mark"` // set on our duplicates so the queue rule lets them pass
	Rules []Rule `json:"rules"`
}

const (
	nfnlSubsysQueue = 3
	msgPacket       = 0
	msgVerdict      = 1
	msgConfig       = 2
	attrPacketHdr   = 1
	attrVerdictHdr  = 2
	attrPayload     = 10
	cfgCmd          = 1
	cfgParams       = 2
	cfgQueueMaxLen  = 3
	cfgMask         = 4
	cfgFlags        = 5
	cmdBind         = 1
	copyPacket      = 2
	nfDrop          = 0
	nfAccept        = 1
	flagFailOpen    = 1
)

type stats struct{ queued, delivered, dropped, duplicated int }

type shaper struct {
	fd      int
	queue   uint16
	mu      sync.Mutex // one writer on the netlink socket; guards rng, nextFree, pending, counts
	rng     *rand.Rand
	rules   map[[4]byte]Rule
	next    map[[4]byte]time.Time
	pending map[uint32]*time.Timer
	counts  map[[4]byte]*stats
	raw     int
	mark    uint32
	seq     uint32
}

func main() {
	queue := flag.Uint("queue", 0, "NFQUEUE number")
	configFile := flag.String("config", "-", "JSON rules (- : standard input)")
	watch := flag.Int("watch-pid", 0, "exit when this process is gone")
	flag.String("owner", "", "who started it (for finding it later)")
	flag.Parse()
	var cfg Config
	var data []byte
	var err error
	if *configFile == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(*configFile)
	}
	must(err, "reading config")
	must(json.Unmarshal(data, &cfg), "parsing config")

	s := &shaper{queue: uint16(*queue), rng: rand.New(rand.NewSource(cfg.Seed)), rules: map[[4]byte]Rule{},
		next: map[[4]byte]time.Time{}, pending: map[uint32]*time.Timer{}, counts: map[[4]byte]*stats{}, mark: cfg.Mark}
	for _, r := range cfg.Rules {
		var ip [4]byte
		if _, err := fmt.Sscanf(r.To, "%d.%d.%d.%d", &ip[0], &ip[1], &ip[2], &ip[3]); err != nil {
			fail("bad address %q", r.To)
		}
		s.rules[ip] = r
		s.counts[ip] = &stats{}
	}
	s.open()
	if cfg.Mark != 0 {
		s.raw, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
		must(err, "raw socket for duplicates")
		must(syscall.SetsockoptInt(s.raw, syscall.SOL_SOCKET, syscall.SO_MARK, int(cfg.Mark)), "SO_MARK")
	}
	fmt.Printf("shaping %d peer(s) on queue %d\n", len(cfg.Rules), *queue)

	done := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; close(done) }()
	if *watch > 0 {
		go func() {
			for {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", *watch)); err != nil {
					fmt.Printf("process %d is gone: exiting\n", *watch)
					close(done)
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}
	go s.read()
	<-done
	s.flush()
	s.summary()
}

func (s *shaper) open() {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW, syscall.NETLINK_NETFILTER)
	must(err, "netlink socket")
	must(syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}), "netlink bind")
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	s.fd = fd
	// Bind the queue, copy whole packets, allow a long queue, and let packets pass if it overflows.
	cmd := []byte{cmdBind, 0, 0, syscall.AF_INET}
	s.request(msgConfig, attr(cfgCmd, cmd))
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0xffff)
	params[4] = copyPacket
	s.request(msgConfig, attr(cfgParams, params))
	s.request(msgConfig, attr(cfgQueueMaxLen, be32(20000)))
	s.request(msgConfig, append(attr(cfgFlags, be32(flagFailOpen)), attr(cfgMask, be32(flagFailOpen))...))
}

// request sends one config message and waits for the kernel's acknowledgement.
func (s *shaper) request(msg uint16, attrs []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	must(s.send(msg, attrs, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK), "netlink send")
	buf := make([]byte, 65536)
	for {
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		must(err, "netlink ack")
		for _, m := range parse(buf[:n]) {
			if m.typ == syscall.NLMSG_ERROR {
				if code := int32(binary.LittleEndian.Uint32(m.data[:4])); code != 0 {
					fail("queue %d config message %d refused: %v", s.queue, msg, syscall.Errno(-code))
				}
				return
			}
		}
	}
}

func (s *shaper) send(msg uint16, attrs []byte, flags uint16) error {
	b := make([]byte, 16+4+len(attrs))
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	binary.LittleEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msg)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], s.seq)
	b[16] = syscall.AF_UNSPEC
	b[17] = 0 // NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], s.queue)
	copy(b[20:], attrs)
	return syscall.Sendto(s.fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
}

func (s *shaper) read() {
	buf := make([]byte, 1<<20)
	for {
		n, _, err := syscall.Recvfrom(s.fd, buf, 0)
		if err == syscall.ENOBUFS || err == syscall.EINTR {
			continue // the kernel dropped (fail-open: passed) what did not fit
		}
		must(err, "netlink receive")
		for _, m := range parse(buf[:n]) {
			if m.typ&0xff != msgPacket || m.typ>>8 != nfnlSubsysQueue || len(m.data) < 4 {
				continue
			}
			var id uint32
			var payload []byte
			for a := m.data[4:]; len(a) >= 4; {
				l := int(binary.LittleEndian.Uint16(a))
				t := binary.LittleEndian.Uint16(a[2:]) & 0x3fff
				if l < 4 || l > len(a) {
					break
				}
				switch t {
				case attrPacketHdr:
					id = binary.BigEndian.Uint32(a[4:])
				case attrPayload:
					payload = append([]byte(nil), a[4:l]...)
				}
				a = a[min(len(a), (l+3)&^3):]
			}
			s.handle(id, payload)
		}
	}
}

// handle decides a packet's fate: drop it, release it now, or hold it until it is due.
func (s *shaper) handle(id uint32, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dst [4]byte
	if len(p) >= 20 {
		copy(dst[:], p[16:20])
	}
	r, ok := s.rules[dst]
	if !ok {
		s.verdict(id, nfAccept)
		return
	}
	c := s.counts[dst]
	c.queued++
	if r.Loss > 0 && s.rng.Float64() < r.Loss {
		c.dropped++
		s.verdict(id, nfDrop)
		return
	}
	now := time.Now()
	due := now
	if !(r.Reorder > 0 && s.rng.Float64() < r.Reorder) {
		d := r.DelayMs + (2*s.rng.Float64()-1)*r.JitterMs
		due = now.Add(time.Duration(max(0, d) * float64(time.Millisecond)))
	}
	if r.RateBps > 0 {
		// Packets leave one after another at the link's rate, each after its own delay.
		start := due
		if s.next[dst].After(start) {
			start = s.next[dst]
		}
		due = start.Add(time.Duration(float64(len(p)*8) / r.RateBps * float64(time.Second)))
		s.next[dst] = due
	}
	dup := r.Duplicate > 0 && s.rng.Float64() < r.Duplicate && s.raw != 0
	release := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, held := s.pending[id]; !held {
			return
		}
		delete(s.pending, id)
		s.verdict(id, nfAccept)
		c.delivered++
		if dup {
			sa := &syscall.SockaddrInet4{Addr: dst}
			if syscall.Sendto(s.raw, p, 0, sa) == nil {
				c.duplicated++
			}
		}
	}
	s.pending[id] = time.AfterFunc(time.Until(due), release)
}

func (s *shaper) verdict(id uint32, v uint32) {
	hdr := make([]byte, 8)
	binary.BigEndian.PutUint32(hdr, v)
	binary.BigEndian.PutUint32(hdr[4:], id)
	_ = s.send(msgVerdict, attr(attrVerdictHdr, hdr), syscall.NLM_F_REQUEST)
}

// flush releases every held packet at once (a heal must not lose what is in flight).
func (s *shaper) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.pending {
		t.Stop()
		s.verdict(id, nfAccept)
		delete(s.pending, id)
	}
}

func (s *shaper) summary() {
	var lines []string
	for ip, c := range s.counts {
		lines = append(lines, fmt.Sprintf("to %d.%d.%d.%d: %d queued, %d delivered, %d dropped, %d duplicated", ip[0], ip[1], ip[2], ip[3], c.queued, c.delivered, c.dropped, c.duplicated))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

type message struct {
	typ  uint16
	data []byte
}

// parse splits a netlink datagram into messages (the kernel's last one may be unpadded, which
// syscall.ParseNetlinkMessage refuses).
func parse(b []byte) []message {
	var out []message
	for len(b) >= 16 {
		l := int(binary.LittleEndian.Uint32(b))
		if l < 16 || l > len(b) {
			break
		}
		out = append(out, message{typ: binary.LittleEndian.Uint16(b[4:]), data: b[16:l]})
		b = b[min(len(b), (l+3)&^3):]
	}
	return out
}

func attr(t uint16, v []byte) []byte {
	l := 4 + len(v)
	b := make([]byte, (l+3)&^3)
	binary.LittleEndian.PutUint16(b, uint16(l))
	binary.LittleEndian.PutUint16(b[2:], t)
	copy(b[4:], v)
	return b
}

func be32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "galley-netshaper: "+f+"\n", a...)
	os.Exit(1)
}
