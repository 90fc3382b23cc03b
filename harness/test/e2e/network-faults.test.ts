// Faults between nodes, through the CLI a user types (`galley fault`), on real containers: each one is
// proved by what the nodes see (a connection that cannot be made, a packet that arrives late, a sshd
// that does not answer), undone by heal, destroy and an interrupt, and leaves nothing behind: the node's
// own ruleset reads as before, the host's never mentions Galley, and no shaper process is left.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { galley, LeakWatch, processesMatching, repo } from "./helpers.ts";

const instance = "static-debian-12";
const state = () => JSON.parse(readFileSync(path.join(repo, ".galley", instance, "state.json"), "utf8"));
const ip = (node: string): string => state().nodes[node].ip;
const pidOf = (node: string) => Number(execFileSync("docker", ["inspect", "-f", "{{.State.Pid}}", state().nodes[node].container], { encoding: "utf8" }).trim());

async function fault(...args: string[]): Promise<void> {
  const r = await galley(["fault", instance, ...args]);
  expect(r.code, `galley fault ${args.join(" ")}:\n${r.stderr}`).to.equal(0);
}

/** Runs a script on a node; returns stdout (any exit code). */
async function on(node: string, script: string): Promise<string> {
  const r = await galley(["exec", instance, "--node", node, "--", script]);
  return r.stdout;
}

/** "ok" when a TCP connection from `from` to `to`:22 gets sshd's banner within 2 s, else why not. */
async function reach(from: string, to: string): Promise<string> {
  const out = await on(from, `timeout 2 bash -c 'exec 3<>/dev/tcp/${ip(to)}/22 && echo connected && head -c 7 <&3' 2>&1; echo " exit $?"`);
  if (/SSH-2\.0/.test(out)) return "ok";
  return /connected/.test(out) ? "connected, no answer" : "no connection";
}

/** The node's iptables and nft rulesets and its qdiscs, counters and comments left out. */
function ruleset(node: string): string {
  const pid = String(pidOf(node));
  const opts = { encoding: "utf8" as const, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[] };
  const ipt = execFileSync("nsenter", ["-t", pid, "-n", "iptables-save"], opts);
  const nft = execFileSync("nsenter", ["-t", pid, "-n", "nft", "list", "ruleset"], opts);
  const tc = execFileSync("nsenter", ["-t", pid, "-n", "tc", "qdisc", "show"], opts);
  return `${ipt}\n${nft}\n${tc}`.split("\n").filter((l) => !l.startsWith("#")).map((l) => l.replace(/\[\d+:\d+\]/g, "").replace(/counter packets \d+ bytes \d+/g, "counter")).join("\n");
}

/** What the host's own network has of Galley's faults: rules naming a node address or Galley's chains, non-default qdiscs. */
function hostTraces(): string[] {
  const file = path.join(repo, ".galley", instance, "state.json");
  const nodes = existsSync(file) ? Object.values(state().nodes).map((n) => (n as { ip: string }).ip) : [];
  const ipt = execFileSync("iptables-save", { encoding: "utf8" }).split("\n").filter((l) => /GALLEY|NFQUEUE/.test(l) || nodes.some((a) => l.includes(`${a}/`)));
  const tc = execFileSync("tc", ["qdisc", "show"], { encoding: "utf8" }).split("\n").filter((l) => /^qdisc (netem|htb|tbf|ingress|prio|clsact) /.test(l));
  return [...ipt, ...tc];
}

/** Host processes inside each of these network namespaces ("net:[inode]"), by namespace. */
function netnsHolders(namespaces: string[]): Record<string, number> {
  const count = Object.fromEntries(namespaces.map((n) => [n, 0]));
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue; // exited meanwhile
    }
    if (ns in count) count[ns]!++;
  }
  return count;
}

/** What Galley's faults can leave, counted: host rules and qdiscs, shapers, what holds the nodes' namespaces (processes, mounts). */
function traces(nodeNetns: string[] = []) {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8");
  return {
    hostRulesAndQdiscs: hostTraces().length,
    shapers: shapers().length,
    processesInNodeNetns: Object.values(netnsHolders(nodeNetns)).reduce((a, b) => a + b, 0),
    // Docker bind-mounts a namespace on its sandbox file (/run/docker/netns/…) while it lives; `ip netns` too.
    mountsOfNodeNetns: mounts.split("\n").filter((l) => nodeNetns.some((ns) => l.includes(` ${ns} `))).length,
  };
}

/** Ids and names of what other tests' and benchmarks' containers (galley.e2e, galley.bench labels) use. */
function foreignTestResources(): string[] {
  const ids = ["galley.e2e", "galley.bench"].flatMap((label) =>
    execFileSync("docker", ["ps", "-aq", "--no-trunc", "--filter", `label=${label}`], { encoding: "utf8" }).split("\n").filter(Boolean));
  if (!ids.length) return [];
  let mounts = "";
  try {
    mounts = execFileSync("docker", ["inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", ...ids], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (err) {
    mounts = String((err as { stdout?: string }).stdout ?? ""); // one of them went meanwhile: the others' still count
  }
  return [...ids, ...mounts.split(/\s+/).filter(Boolean)];
}

const shapers = () => processesMatching((p) => p.cmd.includes("galley-netshaper") && p.cmd.includes(`/${instance}/`));

describe("network faults between named nodes (galley fault on a created instance)", function () {
  let watch: LeakWatch;
  const clean: Record<string, string> = {};
  let baseline: ReturnType<typeof traces>;
  before(async () => {
    watch = await LeakWatch.start();
    baseline = traces();
    const r = await galley(["create", instance]);
    expect(r.code, r.stderr).to.equal(0);
    for (const n of ["infra0", "infra1", "infra2"]) clean[n] = ruleset(n);
    expect(hostTraces(), "the host before any fault").to.deep.equal([]);
  });
  after(async () => {
    await galley(["destroy", instance]);
    await watch?.leftovers(); // stops its timer when a test failed before reading it
  });

  it("partition: no connection across the groups, within a group as before; the cut node still runs commands; heal restores it and the node's ruleset reads as before", async () => {
    await fault("partition", "infra0,infra1", "infra2");
    expect({ "0→1": await reach("infra0", "infra1"), "0→2": await reach("infra0", "infra2"), "2→1": await reach("infra2", "infra1") })
      .to.deep.equal({ "0→1": "ok", "0→2": "no connection", "2→1": "no connection" });
    expect((await on("infra2", "hostname")).trim(), "docker exec reaches the cut-off node").to.equal("infra2");
    expect(ruleset("infra2"), "infra2's ruleset while cut off").to.match(/GALLEY-DROP -s \d/);
    const list = await galley(["list", instance, "--json"]);
    expect(JSON.parse(list.stdout)[0].faults).to.equal("partition infra0,infra1 | infra2");
    expect(hostTraces(), "the host during the partition").to.deep.equal([]);
    await fault("heal");
    expect(await reach("infra0", "infra2")).to.equal("ok");
    for (const n of ["infra0", "infra1", "infra2"]) expect(ruleset(n), `${n}'s ruleset after heal`).to.equal(clean[n]);
    expect(JSON.parse((await galley(["list", instance, "--json"])).stdout)[0].faults).to.equal("");
  });

  it("one-way drop: what infra2 sends to infra0 is lost while infra0's packets still reach infra2 (its SYN waits there, half open)", async () => {
    await fault("drop", "--from", "infra2", "--to", "infra0");
    try {
      // While infra0 tries to connect, infra2's kernel holds the half-open connection: infra0's SYN arrived,
      // infra2's answers are lost.
      const attempt = on("infra0", `timeout 6 bash -c 'exec 3<>/dev/tcp/${ip("infra2")}/22' && echo connected || echo "no connection"`);
      // Asked until the attempt shows (its own galley process may take a while to start on a busy
      // machine), within the attempt's 6 s.
      let synRecv = "";
      for (const deadline = Date.now() + 5_000; Date.now() < deadline && !synRecv.includes(`${ip("infra0")}:`); ) {
        synRecv = await on("infra2", "ss -Htn state syn-recv");
      }
      expect(synRecv, "half-open connections on infra2").to.include(`${ip("infra0")}:`);
      expect((await attempt).trim(), "infra0 → infra2 (the answer is lost)").to.equal("no connection");
      expect(await reach("infra1", "infra2"), "infra1 → infra2, not named in the drop").to.equal("ok");
    } finally {
      await fault("heal");
    }
  });

  it("degrade: a delayed direction between two named nodes arrives late, the other direction and other peers do not; rate, loss and duplicates show in ping and throughput", async () => {
    const oneWay = async (from: string, to: string) => {
      // Same kernel clock on every container: the receiver subtracts the sender's timestamp.
      const receive = on(to, `timeout 10 busybox nc -l -p 7000 | { read t; echo $(( ($(date +%s%N) - t) / 1000000 )); }`);
      await new Promise((r) => setTimeout(r, 1500));
      await on(from, `bash -c 'exec 3<>/dev/tcp/${ip(to)}/7000; date +%s%N >&3'`);
      return Number((await receive).trim());
    };
    await fault("degrade", "--from", "infra0", "--to", "infra1", "--delay", "300ms", "--jitter", "20ms");
    try {
      const late = await oneWay("infra0", "infra1");
      const back = await oneWay("infra1", "infra0");
      const other = await oneWay("infra0", "infra2");
      console.log(`      one-way: infra0→infra1 ${late} ms, infra1→infra0 ${back} ms, infra0→infra2 ${other} ms`);
      expect(late, "infra0 → infra1 (delayed 300 ± 20 ms)").to.be.within(280, 1500);
      expect(back, "infra1 → infra0 (not degraded)").to.be.below(150);
      expect(other, "infra0 → infra2 (another peer)").to.be.below(150);
      expect(shapers(), "one shaper, in infra0's namespace").to.have.length(1);
    } finally {
      await fault("heal");
    }
    expect(shapers(), "shapers after heal").to.deep.equal([]);

    await fault("degrade", "--from", "infra1", "--to", "infra2", "--loss", "50%", "--duplicate", "50%");
    try {
      const ping = await on("infra1", `ping -c 60 -i 0.02 -q ${ip("infra2")} | tail -2`);
      const sent = Number(/(\d+) packets transmitted/.exec(ping)?.[1]);
      const received = Number(/(\d+) received/.exec(ping)?.[1]);
      const dups = Number(/\+(\d+) duplicates/.exec(ping)?.[1] ?? 0);
      console.log(`      loss 50 %, duplicate 50 %: ${ping.trim().split("\n")[0]}`);
      // Each request is lost with p=.5 and the rest sent twice with p=.5 (each copy answered): 60 trials,
      // far from 0 and 60 either way.
      expect(sent - received, `requests lost of ${sent}`).to.be.within(12, 48);
      expect(dups, `requests that arrived twice of ${received}`).to.be.within(3, received - 3);
    } finally {
      await fault("heal");
    }
    await fault("degrade", "--from", "infra2", "--to", "infra1", "--duplicate", "100%");
    try {
      const ping = await on("infra1", `ping -c 20 -i 0.05 -q ${ip("infra2")} | tail -2`);
      // Every reply twice (ping may exit before the last copy arrives).
      expect(Number(/\+(\d+) duplicates/.exec(ping)?.[1] ?? 0), `replies that arrived twice: ${ping}`).to.be.within(19, 20);
    } finally {
      await fault("heal");
    }
    await fault("degrade", "--from", "infra0", "--to", "infra1", "--rate", "800kbit");
    try {
      const receive = on("infra1", "timeout 20 busybox nc -l -p 7001 | wc -c");
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      // bash closes the socket once the kernel took the data; the receiver counts until the end arrives.
      await on("infra0", `head -c 300000 /dev/zero > /dev/tcp/${ip("infra1")}/7001`);
      const bytes = Number((await receive).trim());
      const secs = (Date.now() - t0) / 1000;
      console.log(`      rate 800 kbit/s: ${bytes} bytes in ${secs.toFixed(1)} s`);
      expect(bytes).to.equal(300000);
      // 2.4 Mbit at 0.8 Mbit/s takes ≥ 3 s (unshaped: a fraction of a second).
      expect(secs, "seconds for 300 kB").to.be.above(2.7);
    } finally {
      await fault("heal");
    }
  });

  it("pause: a frozen node's kernel still accepts the connection but sshd never answers; a frozen unit likewise; resume and heal bring both back", async () => {
    await fault("infra1", "pause");
    try {
      expect(await reach("infra0", "infra1")).to.equal("connected, no answer");
      expect(JSON.parse((await galley(["list", instance, "--json"])).stdout)[0].faults).to.equal("infra1 paused");
    } finally {
      await fault("infra1", "resume");
    }
    expect(await reach("infra0", "infra1")).to.equal("ok");
    await fault("pause-unit", "infra2", "ssh.service");
    try {
      expect((await on("infra2", "ps -o stat= -C sshd")).trim(), "sshd's process state").to.match(/^T/);
      expect(await reach("infra0", "infra2")).to.equal("connected, no answer");
      expect(JSON.parse((await galley(["list", instance, "--json"])).stdout)[0].faults).to.equal("infra2 paused:ssh.service");
    } finally {
      await fault("heal");
    }
    expect(await reach("infra0", "infra2")).to.equal("ok");
  });

  it("a node that crashes and boots again during a partition gets its side of the partition back", async () => {
    await fault("partition", "infra0", "infra1,infra2");
    await fault("infra0", "crash");
    await fault("infra0", "start");
    try {
      expect(ruleset("infra0"), "infra0's new namespace").to.match(/GALLEY-DROP -s \d/);
      expect(await reach("infra0", "infra1")).to.equal("no connection");
    } finally {
      await fault("heal");
    }
    expect(await reach("infra0", "infra1")).to.equal("ok");
  });

  it("an interrupt undoes network faults and frozen units; destroy with faults in effect leaves nothing on the host", async () => {
    // infra0 booted again above: its namespace (Docker's DNS rules) is new; this is its clean state now.
    for (const n of ["infra0", "infra1", "infra2"]) clean[n] = ruleset(n);
    await fault("degrade", "--from", "all", "--to", "all", "--delay", "50ms");
    await fault("pause-unit", "infra1", "ssh.service");
    expect(shapers()).to.have.length(3);
    const r = await galley(["converge", instance], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern: /… converge/, signal: "SIGINT" } });
    expect(r.code, r.stderr).to.equal(130);
    expect(shapers(), "shapers after the interrupt").to.deep.equal([]);
    expect(state().links, "link faults in the state").to.equal(undefined);
    expect(state().faults, "node faults in the state").to.equal(undefined);
    expect(await reach("infra0", "infra1")).to.equal("ok");
    for (const n of ["infra0", "infra1", "infra2"]) expect(ruleset(n), `${n}'s ruleset`).to.equal(clean[n]);

    await fault("partition", "infra0", "infra1,infra2");
    await fault("degrade", "--from", "infra1", "--to", "infra2", "--delay", "100ms");
    await fault("infra2", "pause");
    // Counted before destroy (each count can be seen to fall to what it was before create): rules in
    // the nodes' namespaces, the shaper, the processes inside the namespaces and Docker's mounts of them.
    const nodes = ["infra0", "infra1", "infra2"];
    const namespaces = nodes.map((n) => readlinkSync(`/proc/${pidOf(n)}/ns/net`));
    const galleyRules = nodes.map((n) => ruleset(n).split("\n").filter((l) => /GALLEY|NFQUEUE/.test(l)).length);
    const during = traces(namespaces);
    console.log(`      before destroy: ${JSON.stringify({ ...during, galleyRulesPerNode: galleyRules })}`);
    expect(galleyRules.every((c) => c > 0), `Galley's rules in each node's namespace: ${galleyRules}`).to.equal(true);
    expect(during.shapers, "infra1's shaper").to.equal(1);
    expect(during.processesInNodeNetns, "processes in the nodes' namespaces (systemd, sshd, the shaper…)").to.be.above(3);
    expect(during.mountsOfNodeNetns, "mounts of the nodes' namespaces (Docker's sandbox files)").to.equal(3);
    // The containers this instance ran (its nodes, and any their own Docker ran): only their cgroups are ours.
    const ours = nodes.map((n) => execFileSync("docker", ["inspect", "-f", "{{.Id}}", state().nodes[n].container], { encoding: "utf8" }).trim());
    for (const v of (state().volumes ?? []) as string[]) {
      const dir = execFileSync("docker", ["volume", "inspect", "-f", "{{.Mountpoint}}", v], { encoding: "utf8" }).trim();
      if (existsSync(path.join(dir, "containers"))) ours.push(...readdirSync(path.join(dir, "containers")));
    }
    const d = await galley(["destroy", instance]);
    expect(d.code, d.stderr).to.equal(0);
    const after = traces(namespaces);
    console.log(`      after destroy: ${JSON.stringify(after)}; before create: ${JSON.stringify(baseline)}`);
    expect(after, "after destroy").to.deep.equal({ ...baseline, processesInNodeNetns: 0, mountsOfNodeNetns: 0 });
    expect(hostTraces(), "the host after destroy").to.deep.equal([]);
    // On a shared machine, other checkouts' e2e tests and benchmarks label their own containers galley.e2e
    // or galley.bench (this test makes neither): those, their networks, volumes and cgroups are not ours.
    // A cgroup is ours only if one of this instance's containers had it (a shared machine's other runs leave theirs).
    const left = (await watch.leftovers()).filter((l) => !foreignTestResources().some((r) => l.includes(r)) && !/galley\.(e2e|bench)=/.test(l))
      .filter((l) => !l.startsWith("cgroup ") || ours.some((id) => l.includes(id)));
    expect(left, `new on the host since the test began:\n${left.join("\n")}`).to.deep.equal([]);
  });
});
