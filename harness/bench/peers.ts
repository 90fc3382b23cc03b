// Benchmark (not a test: `npm test` never runs it): Galley beside its peers doing the same cluster work,
// in the same run, rounds alternating the order. Each side boots 3 nodes from the same box image
// (galley.yml's static-debian-12), runs the same fixture (fixtures/fleet-cluster: provision.sh on every
// node, cluster.sh once on the first, with the same attributes) and removes everything again:
//   galley    `galley test static-debian-12`: also a second converge (idempotence) and the 11 checks
//   raw       harness/bench/raw-cluster.sh: docker CLI only, no idempotence, no checks (the floor)
//   vagrant   Debian's vagrant, docker provider (harness/bench/vagrant/Vagrantfile): `vagrant up
//             --parallel` (boot, provision.sh through the shell provisioner), `vagrant provision
//             <first> --provision-with cluster`, `vagrant destroy -f`; no idempotence, no checks
//   molecule  `molecule test` with the docker driver, the box image as three platforms
//             (pre_build_image), the fixture as raw tasks (harness/bench/molecule/converge.yml): create,
//             converge, idempotence (a second converge), an empty verify, destroy
// Every side fails loudly when its cluster does not form: raw and Galley check every node's exit code;
// for Vagrant every node must have left its done-marker (and vagrant must exit 0); for Molecule every node
// must appear in each play recap with failed=0 and unreachable=0 (and molecule must exit 0).
// The peers hand the files to the nodes as bind mounts (their usual way with Docker); Galley and raw
// copy them in.
// usage: harness/bench/setup-peers.sh    (once: installs vagrant and a Molecule virtualenv)
//        node --import tsx harness/bench/peers.ts [rounds=1]
//   BENCH_SIDES=vagrant,raw   only these sides (trying one peer; the table is meant with all four)
//   BENCH_BREAK_NODE=infra1   gives that node a bad attribute (etcd.cluster=bogus) for Vagrant and Molecule,
//                             to prove each stops naming the failed node (RAW_BREAK_NODE does it for raw)
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cacheDir } from "../src/util/cache.ts";
import { envDir, fleet, image, INSTANCE, median, plan, recipe, repo, roundsArg, runGalley, runRaw, tail } from "./sides.ts";

const rounds = roundsArg(process.argv[2], 1);
const nodes = plan.nodes.map((n) => n.name);
const bench = `galley-bench-peer-${createHash("sha256").update(repo).digest("hex").slice(0, 6)}`;
const label = `galley.bench=${bench}`;
const venv = cacheDir("bench", "molecule-venv");
const fixture = path.join(repo, "fixtures/fleet-cluster");

// The peers' attribute files: the nodes' own, or with one node broken (BENCH_BREAK_NODE).
const broken = process.env.BENCH_BREAK_NODE;
const peerEnvDir = broken ? mkdtempSync(path.join(os.tmpdir(), "galley-bench-broken-")) : envDir;
if (broken) {
  if (!nodes.includes(broken)) throw new Error(`BENCH_BREAK_NODE: no node ${broken} (nodes: ${nodes.join(", ")})`);
  for (const f of readdirSync(envDir)) {
    const text = readFileSync(path.join(envDir, f), "utf8");
    writeFileSync(path.join(peerEnvDir, f), f === `${broken}.env` ? text.replace(/^ATTR_ETCD_CLUSTER=.*$/m, "ATTR_ETCD_CLUSTER=bogus") : text);
  }
  process.on("exit", () => rmSync(peerEnvDir, { recursive: true, force: true }));
}

if (!existsSync(path.join(venv, "bin/molecule"))) throw new Error(`no Molecule in ${venv}: run harness/bench/setup-peers.sh first`);
if (spawnSync("vagrant", ["--version"]).status !== 0) throw new Error("no vagrant on PATH: run harness/bench/setup-peers.sh first");

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts });
}

/** Removes whatever a peer run (this one or a killed one) left: containers, their volumes, networks. */
function sweep(): void {
  const ids = sh("docker", ["ps", "-aq", "--filter", `label=${label}`]).stdout.split("\n").filter(Boolean);
  if (ids.length) sh("docker", ["rm", "-f", "-v", ...ids]);
  for (const net of sh("docker", ["network", "ls", "-q", "--filter", `label=${label}`]).stdout.split("\n").filter(Boolean)) sh("docker", ["network", "rm", net]);
}

/** A /24 no Docker network uses: the first /24 of the subnet Docker itself hands a new network now. */
function freeSubnet(): string {
  const probe = `${bench}-probe`;
  const made = sh("docker", ["network", "create", "--label", label, probe]);
  if (made.status !== 0) throw new Error(`cannot create a probe network: ${made.stderr}`);
  const subnet = sh("docker", ["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", probe]).stdout.trim();
  sh("docker", ["network", "rm", probe]);
  const m = /^(\d+\.\d+\.\d+)\.0\/(\d+)$/.exec(subnet);
  if (!m || Number(m[2]) > 24) throw new Error(`Docker handed the probe network ${subnet}, not a /24 or larger`);
  return `${m[1]}.0/24`;
}

function keyPair(dir: string): string {
  const ssh = path.join(dir, "ssh");
  mkdirSync(ssh);
  const r = sh("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", bench, "-f", path.join(ssh, "id_rsa")]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return ssh;
}

/** Vagrant's own login key: ed25519 (the box's OpenSSH refuses the ssh-rsa signatures Vagrant makes). */
function loginKey(dir: string): string {
  const key = path.join(dir, "login");
  const r = sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", bench, "-f", key]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return key;
}

/** A failed peer command: its last lines, and the whole output kept in a file named in the message. */
function failed(what: string, r: SpawnSyncReturns<string>): Error {
  const file = path.join(os.tmpdir(), `${bench}-${what.split(" ").slice(0, 2).join("-")}.log`);
  writeFileSync(file, `$ ${what}\n${r.stdout}\n${r.stderr}`);
  const out = `${r.stdout}\n${r.stderr}`;
  // Vagrant names the machines that failed at the end, far below what they printed: bring their last lines up.
  const machines = [...out.matchAll(/executing the action on the '([^']+)'/g)].map((m) => m[1]!);
  const said = machines.map((m) => {
    const lines = out.split("\n").filter((l) => l.trimStart().startsWith(`${m}: `) && !l.includes("An error occurred"));
    return `node ${m} failed; its last lines:\n${lines.slice(-6).join("\n")}`;
  });
  // Ansible (Molecule): `fatal: [host]: FAILED! => {…"rc": N, "stderr": "…"}` per failed node.
  for (const m of out.matchAll(/^fatal: \[([^\]]+)\]: FAILED! => (\{.*\})$/gm)) {
    let detail = m[2]!.slice(0, 300);
    try {
      const j = JSON.parse(m[2]!) as { rc?: number; msg?: string; stderr?: string };
      detail = `exit ${j.rc ?? "?"}: ${(j.stderr ?? "").trim() || j.msg}`;
    } catch {
      /* not JSON: its start will do */
    }
    said.push(`node ${m[1]!.replace(`${bench}-`, "")} failed (${detail})`);
  }
  return new Error(`${what} failed (exit ${r.status ?? r.signal}); whole output: ${file}\n${said.length ? said.join("\n") : tail(out, 30)}`);
}

function runVagrant(): number {
  sweep();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "galley-bench-vagrant-"));
  const env = {
    ...process.env,
    VAGRANT_CWD: path.join(repo, "harness/bench/vagrant"),
    VAGRANT_DOTFILE_PATH: path.join(tmp, "dot"),
    VAGRANT_DEFAULT_PROVIDER: "docker",
    VAGRANT_CHECKPOINT_DISABLE: "1",
    BENCH_IMAGE: image,
    BENCH_NAME: bench,
    BENCH_NODES: nodes.join(","),
    BENCH_SUBNET: freeSubnet(),
    BENCH_ENV_DIR: peerEnvDir,
    BENCH_FIXTURE: fixture,
    BENCH_FLEET: fleet,
    BENCH_SSH: keyPair(tmp),
    BENCH_LOGIN_KEY: loginKey(tmp),
    BENCH_CAP_DROP: recipe.capDrop.join(","),
    BENCH_INSTANCE: INSTANCE,
  };
  const start = performance.now();
  let destroyed = false;
  try {
    const up = sh("vagrant", ["up", "--parallel", "--provider", "docker"], { env });
    if (up.status !== 0) throw failed("vagrant up", up);
    const cluster = sh("vagrant", ["provision", nodes[0]!, "--provision-with", "cluster"], { env });
    if (cluster.status !== 0) throw failed(`vagrant provision ${nodes[0]} --provision-with cluster`, cluster);
    // Every node finished its node phase, the first its cluster phase: vagrant's exit code is not the only word.
    for (const [i, n] of nodes.entries()) {
      for (const marker of i === 0 ? ["node-done", "cluster-done"] : ["node-done"]) {
        const r = sh("docker", ["exec", `${bench}-${n}`, "test", "-f", `/var/lib/galley/${marker}`]);
        if (r.status !== 0) throw new Error(`vagrant: node ${n} has no /var/lib/galley/${marker}: its provisioning did not finish (docker exec exit ${r.status})`);
      }
    }
    const destroy = sh("vagrant", ["destroy", "-f"], { env });
    destroyed = true;
    if (destroy.status !== 0) throw failed("vagrant destroy -f", destroy);
    return (performance.now() - start) / 1000;
  } finally {
    if (!destroyed) sh("vagrant", ["destroy", "-f"], { env });
    sweep();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Docker's "ALL" spelled out (Molecule's docker driver has capabilities but no cap_drop): the nodes get
 * every one the host can grant, as Galley's and raw's `--cap-add=ALL --cap-drop=…`. Without BPF,
 * PERFMON and CHECKPOINT_RESTORE, which older Docker engines (this one) refuse as unknown.
 */
const CAPABILITIES = "AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM".split(" ");

function runMolecule(): number {
  sweep();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "galley-bench-molecule-"));
  const scenario = path.join(tmp, "molecule/default");
  mkdirSync(scenario, { recursive: true });
  const ssh = keyPair(tmp);
  const subnet = freeSubnet();
  const prefix = subnet.replace(/\.0\/24$/, "");
  const ips = Object.fromEntries(nodes.map((n, i) => [n, `${prefix}.${i + 2}`]));
  const network = `${bench}-net`;
  const platform = (n: string) => `${bench}-${n}`;
  // JSON is YAML: molecule.yml is written from here, with this run's subnet and this host's capabilities.
  const molecule = {
    dependency: { name: "galaxy", enabled: false },
    driver: { name: "docker" },
    platforms: nodes.map((n, i) => ({
      name: platform(n),
      ...(i === 0 ? { groups: ["first"] } : {}),
      hostname: n,
      image,
      pre_build_image: true,
      override_command: false,
      capabilities: CAPABILITIES.filter((c) => !recipe.capDrop.includes(c)),
      security_opts: ["seccomp=unconfined", "apparmor=unconfined"],
      cgroupns_mode: "host",
      tmpfs: ["/run:rw,exec,mode=755", "/run/lock:rw,mode=1777", "/tmp:rw,exec,mode=1777"],
      volumes: [
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "/var/lib/docker",
        `${fixture}:/var/lib/galley/provision:ro`,
        `${ssh}:/var/lib/galley/ssh:ro`,
        `${fleet}:/var/lib/galley/artifacts/fleet:ro`,
        `${peerEnvDir}:/var/lib/galley/env:ro`,
      ],
      keep_volumes: false,
      env: { container: "docker" },
      stop_signal: "SIGRTMIN+3",
      labels: { "galley.bench": bench },
      docker_networks: [{ name: network, ipam_config: [{ subnet }], labels: { "galley.bench": bench } }],
      networks: [{ name: network, ipv4_address: ips[n] }],
    })),
    provisioner: {
      name: "ansible",
      inventory: {
        group_vars: { all: { bench_instance: INSTANCE, bench_peers: nodes.map((n) => `${n}=${ips[n]}`).join(" ") } },
        host_vars: Object.fromEntries(nodes.map((n, i) => [platform(n), { node_name: n, node_index: i, node_ip: ips[n] }])),
      },
    },
    verifier: { name: "ansible" },
  };
  writeFileSync(path.join(scenario, "molecule.yml"), JSON.stringify(molecule, null, 2));
  copyFileSync(path.join(repo, "harness/bench/molecule/converge.yml"), path.join(scenario, "converge.yml"));
  const env = { ...process.env, PATH: `${path.join(venv, "bin")}:${process.env.PATH}`, ANSIBLE_FORCE_COLOR: "0", PY_COLORS: "0", NO_COLOR: "1" };
  const start = performance.now();
  try {
    const r = sh(path.join(venv, "bin/molecule"), ["test"], { cwd: tmp, env });
    const wall = (performance.now() - start) / 1000;
    if (r.status !== 0) throw failed("molecule test", r);
    // Each converge's recaps (converge, idempotence): every node there, none failed or unreachable.
    const out = `${r.stdout}\n${r.stderr}`;
    for (const n of nodes) {
      const recaps = [...out.matchAll(new RegExp(`^${platform(n)}\\s*:\\s*ok=(\\d+).*?unreachable=(\\d+)\\s+failed=(\\d+)`, "gm"))];
      if (recaps.length < 2) throw new Error(`molecule: node ${n} is in ${recaps.length} play recaps, not in both converges':\n${tail(out, 30)}`);
      const bad = recaps.find((m) => m[2] !== "0" || m[3] !== "0" || m[1] === "0");
      if (bad) throw new Error(`molecule: node ${n}: ${bad[0]}\n${tail(out, 30)}`);
    }
    return wall;
  } finally {
    sweep();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const SIDES = { galley: () => runGalley().wall, raw: () => runRaw().wall, vagrant: runVagrant, molecule: runMolecule } as const;
type Side = keyof typeof SIDES;
// BENCH_SIDES=vagrant,raw runs only those (to try one peer); the table is meant with all four.
const names = (process.env.BENCH_SIDES?.split(",") ?? Object.keys(SIDES)) as Side[];
for (const n of names) if (!(n in SIDES)) throw new Error(`BENCH_SIDES: no side ${n} (sides: ${Object.keys(SIDES).join(", ")})`);
const walls: Record<Side, number[]> = { galley: [], raw: [], vagrant: [], molecule: [] };
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");

console.log(`${rounds} round${rounds > 1 ? "s" : ""} of ${names.join(", ")} (order rotating); ${os.cpus().length} cores, load ${load()}`);
try {
  for (let i = 0; i < rounds; i++) {
    // Each round starts with another side, and alternates direction: every side goes first, and last.
    const rotated = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
    const order = i % 2 ? rotated.reverse() : rotated;
    const took: string[] = [];
    for (const side of order) {
      const wall = SIDES[side]();
      walls[side].push(wall);
      took.push(`${side} ${wall.toFixed(1)} s`);
    }
    console.log(`round ${i + 1}/${rounds}: ${took.join(", ")} (load ${load()})`);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}

const raw = walls.raw.length ? median(walls.raw) : NaN;
console.log(`\nmedians over ${rounds} round${rounds > 1 ? "s" : ""}, ${nodes.length} nodes, box ${image}`);
console.log(`${"".padEnd(10)}${"median".padStart(10)}${"÷ raw".padStart(8)}  runs`);
for (const side of names) {
  const m = median(walls[side]);
  console.log(`${side.padEnd(10)}${`${m.toFixed(1)} s`.padStart(10)}${`${(m / raw).toFixed(2)}×`.padStart(8)}  ${walls[side].map((w) => w.toFixed(1)).join(", ")}`);
}
