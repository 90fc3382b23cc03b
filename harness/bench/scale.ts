// Benchmark (not a test: `npm test` never runs it). Issue 12's scale target: a warm `galley test` of
// the scale fixture's cluster (fixtures/scale: the fleet cluster, suite fleet-cluster) at 1, 3, 5, 9
// and 16 nodes, timed per phase, with the memory each idle node holds; on 2 cores 9 nodes should take
// at most twice the 3-node time.
//
// How: the fixture's galley.yml is copied beside it (same folder, so its relative paths hold) with one
// suite per size, `n<N>` with N nodes and the fixture's default verifier (the fault suites the
// fixture adds for 1 and 5 nodes would make verify incomparable across sizes). For each size:
//   `galley -v test n<N>-debian-12 --destroy never`: destroy-first, create, converge (provision every
//   node, then the cluster phase), converge again (idempotence), verify; then the memory of each node
//   container, read from its cgroup (v1: /sys/fs/cgroup/memory/docker/<id>/, `memory.usage_in_bytes`
//   minus `total_inactive_file`, the figure `docker stats` shows; v2: memory.current minus
//   inactive_file), the cluster idle with test.service running; then `galley destroy`, timed.
// Phases come from Galley's `✓ <step> <instance> (<time>)` lines, the cluster phase from the instance
// log, and "where the time goes" from the -v timing lines (each part's slowest node). The whole is the
// test's spawn-to-exit plus the destroy step: what one `galley test` takes.
// Work or waiting: every 500 ms the run samples the CPU time the node containers' cgroups used and the
// machine's busy and idle time (/proc/stat), and splits both by phase (the instance log's step lines).
// Node CPU per node that stays flat across sizes is work that grows with N; a phase where the nodes
// use little CPU and the machine has idle cores is waiting.
// A size may repeat (3,9,3,9: rounds, alternating): the 9÷3 ratio is then of the medians.
// Nothing is left behind: each size is destroyed, its containers, networks and volumes checked gone,
// and the copied config and the size's .galley/n<N>-debian-12 folder removed (also on Ctrl-C; the
// folder stays when the size failed, or with SCALE_KEEP_LOGS=1, and the benchmark prints where).
// usage: node --import tsx harness/bench/scale.ts [sizes=1,3,5,9,16]   (SCALE_KEEP_LOGS=1 keeps each size's .galley folder)
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { parse, stringify } from "yaml";
import { loadConfig } from "../src/config/load.ts";
import { projectId } from "../src/drivers/docker/labels.ts";
import { planInstances, type InstancePlan } from "../src/plan/plan.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const fixture = path.join(repo, "fixtures/scale/galley.yml");
const bin = path.join(repo, "harness/bin/galley.js");

const sizes = (process.argv[2] ?? "1,3,5,9,16").split(",").map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`sizes are whole numbers ≥ 1 separated by commas, not "${s}" (in ${process.argv[2]})`);
  return n;
});

// The fixture with one suite per size, beside it; removed however the benchmark ends.
const config = path.join(path.dirname(fixture), `.scale-bench-${process.pid}.yml`);
const doc = parse(readFileSync(fixture, "utf8")) as { suites: unknown[] };
doc.suites = [...new Set(sizes)].map((n) => ({ name: `n${n}`, nodes: n }));
writeFileSync(config, `# Written by harness/bench/scale.ts from galley.yml (removed when it ends).\n${stringify(doc)}`);
process.on("exit", () => rmSync(config, { force: true }));
const plans = new Map(planInstances(loadConfig(config)).map((p) => [p.nodes.length, p]));

interface Result {
  n: number;
  phases: Record<string, number>;
  wall: number;
  checks: string;
  memMiB: number[];
  load: [number, number];
  timings: string[];
  /** Per phase of the test: CPU seconds the node containers used, and how busy the whole machine was. */
  cpu: Record<string, { nodeSecs: number; machineBusy: number }>;
  error?: string;
}

interface Cli {
  code: number | null;
  stderr: string;
  secs: number;
}

let current: ReturnType<typeof spawn> | undefined;
function galley(args: string[]): Promise<Cli> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "--config", config, ...args], { cwd: repo, env: { ...process.env, CI: "1" }, stdio: ["ignore", "ignore", "pipe"] });
    current = child;
    let stderr = "";
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => {
      current = undefined;
      resolve({ code, stderr, secs: (performance.now() - start) / 1000 });
    });
  });
}

// Ctrl-C: the galley running gets it too (SIGTERM is passed on) and cleans up its step; then every
// size is destroyed.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, async () => {
    console.error(`\n${sig}: destroying every n<N>-debian-12 this benchmark made…`);
    if (sig === "SIGTERM") current?.kill(sig);
    await new Promise((r) => (current ? current.once("close", r) : r(undefined)));
    await galley(["destroy", "all"]);
    if (process.env["SCALE_KEEP_LOGS"] !== "1") removeStateDirs();
    process.exit(130);
  });
}

/** Removes every size's .galley/n<N>-debian-12 folder, and .galley itself once empty (it may hold others'). */
function removeStateDirs(): void {
  for (const plan of plans.values()) rmSync(plan.stateDir, { recursive: true, force: true });
  try {
    rmdirSync(path.join(path.dirname(config), ".galley"));
  } catch {}
}

const tail = (text: string, n = 25) => text.trim().split("\n").slice(-n).join("\n");

/** `✓ <step> <instance> (<time>)` lines → seconds per phase (the first destroy is destroy-first). */
function stepTimes(stderr: string, instance: string, firstDestroy: "destroy-first" | "destroy"): Record<string, number> {
  const names: Record<string, string> = { create: "create", converge: "converge", "converge again (idempotence)": "idempotence", verify: "verify", destroy: "destroy" };
  const phases: Record<string, number> = {};
  for (const m of stderr.matchAll(new RegExp(`^✓ (.+?)\\s+${instance} \\(([\\d.]+) (ms|s)\\)$`, "gm"))) {
    const name = m[1] === "destroy" ? firstDestroy : names[m[1]!];
    if (!name) throw new Error(`unexpected step in galley's output: ${m[0]}`);
    phases[name] = Number(m[2]) / (m[3] === "ms" ? 1000 : 1);
  }
  return phases;
}

/** Memory in MiB each node container holds now (cgroup: usage minus inactive file cache, as `docker stats`). */
async function nodeMemory(plan: InstancePlan): Promise<number[]> {
  const d = new Docker();
  const filters = { label: [`galley.instance=${plan.name}`, `galley.project=${projectId(plan.root)}`, "galley.role=node"] };
  const containers = await d.listContainers({ filters });
  if (containers.length !== plan.nodes.length) throw new Error(`${plan.name}: ${containers.length} node containers running, expected ${plan.nodes.length}`);
  return containers.map((c) => {
    const v1 = `/sys/fs/cgroup/memory/docker/${c.Id}`;
    const v2 = `/sys/fs/cgroup/system.slice/docker-${c.Id}.scope`;
    const stat = (file: string) => Object.fromEntries(readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k, Number(v)]));
    let bytes: number;
    if (existsSync(v1)) bytes = Number(readFileSync(`${v1}/memory.usage_in_bytes`, "utf8")) - (stat(`${v1}/memory.stat`)["total_inactive_file"] ?? 0);
    else if (existsSync(v2)) bytes = Number(readFileSync(`${v2}/memory.current`, "utf8")) - (stat(`${v2}/memory.stat`)["inactive_file"] ?? 0);
    else throw new Error(`${plan.name}: no memory cgroup for container ${c.Names[0]} at ${v1} or ${v2} (another cgroup driver?)`);
    return bytes / 2 ** 20;
  });
}

/** CPU time (ns) a container's cgroup has used so far; undefined once it is gone. */
function containerCpuNs(id: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, "utf8"));
  } catch {
    try {
      const stat = readFileSync(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, "utf8");
      return Number(/^usage_usec (\d+)/m.exec(stat)?.[1]) * 1000;
    } catch {
      return undefined;
    }
  }
}

/** The machine's CPU time so far, busy and idle (jiffies, all cores), from /proc/stat. */
function machineCpu(): { busy: number; idle: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!;
  return { busy: f.slice(0, 8).reduce((a, b) => a + b, 0) - idle, idle };
}

interface Sample {
  at: number;
  nodeNs: number;
  busy: number;
  idle: number;
}

/**
 * Samples, every 500 ms until stopped, the CPU the instance's node containers used (summed) and the
 * machine's busy and idle time: a phase where our nodes work and the machine is saturated is work; one
 * where the machine has idle CPU is waiting on something else.
 */
function sampleCpu(plan: InstancePlan): { stop: () => Sample[] } {
  const d = new Docker();
  const filters = { label: [`galley.instance=${plan.name}`, `galley.project=${projectId(plan.root)}`, "galley.role=node"] };
  const samples: Sample[] = [];
  // A node's last reading stays counted after its container goes (and a container not yet seen counts 0).
  const last = new Map<string, number>();
  let ids: string[] = [];
  let listing = false;
  const tick = () => {
    if (ids.length < plan.nodes.length && !listing) {
      listing = true;
      d.listContainers({ filters }).then((cs) => (ids = cs.map((c) => c.Id)), () => {}).finally(() => (listing = false));
    }
    for (const id of ids) {
      const ns = containerCpuNs(id);
      if (ns !== undefined) last.set(id, ns);
    }
    samples.push({ at: Date.now(), nodeNs: [...last.values()].reduce((a, b) => a + b, 0), ...machineCpu() });
  };
  tick();
  const timer = setInterval(tick, 500);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      return samples;
    },
  };
}

/** Node CPU seconds and machine busy fraction between two times, from the samples nearest them. */
function cpuBetween(samples: Sample[], from: number, to: number): { nodeSecs: number; machineBusy: number } {
  const at = (t: number) => samples.reduce((best, s) => (Math.abs(s.at - t) < Math.abs(best.at - t) ? s : best));
  const a = at(from);
  const b = at(to);
  const busy = b.busy - a.busy;
  const all = busy + b.idle - a.idle;
  return { nodeSecs: (b.nodeNs - a.nodeNs) / 1e9, machineBusy: all > 0 ? busy / all : NaN };
}

async function leftovers(plan: InstancePlan): Promise<string[]> {
  const d = new Docker();
  const filters = { label: [`galley.instance=${plan.name}`, `galley.project=${projectId(plan.root)}`] };
  const [containers, networks, volumes] = await Promise.all([d.listContainers({ all: true, filters }), d.listNetworks({ filters }), d.listVolumes({ filters })]);
  return [...containers.map((c) => `container ${c.Names[0]}`), ...networks.map((n) => `network ${n.Name}`), ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`)];
}

async function runSize(n: number): Promise<Result> {
  const plan = plans.get(n)!;
  const load0 = os.loadavg()[0]!;
  const result: Result = { n, phases: {}, wall: NaN, checks: "", memMiB: [], load: [load0, load0], timings: [], cpu: {} };
  let samples: Sample[] = [];
  try {
    const sampler = sampleCpu(plan);
    const t = await galley(["-v", "test", plan.name, "--destroy", "never"]).finally(() => (samples = sampler.stop()));
    const ended = Date.now();
    result.timings = [...t.stderr.matchAll(new RegExp(`^  ((?:create|converge) ${plan.name}: .*)$`, "gm"))].map((m) => m[1]!);
    if (t.code !== 0) throw new Error(`galley test ${plan.name} failed (exit ${t.code}):\n${tail(t.stderr)}`);
    result.phases = stepTimes(t.stderr, plan.name, "destroy-first");
    const checks = /^ +(\d+) checks passed on \S+?(, \d+ skipped)?$/m.exec(t.stderr);
    result.checks = checks ? `${checks[1]} passed${checks[2] ?? ""}` : "?";
    // The instance log holds the last command's lines only (the test's): a first match is the first converge's.
    const log = readFileSync(path.join(plan.stateDir, "galley.log"), "utf8");
    // Each step starts with `<time> [galley] == <step> <instance>`; the last ends when galley exits.
    const starts = [...log.matchAll(new RegExp(`^(\\S+) \\[galley\\] == (.+) ${plan.name}$`, "gm"))].map((m) => ({ at: Date.parse(m[1]!), step: m[2]! }));
    // The first converge splits where its cluster phase starts (`<time> [<first node> cluster] $ …`).
    const clusterAt = new RegExp(`^(\\S+) \\[${plan.nodes[0]!.name} cluster\\] \\$ `, "m").exec(log);
    const converge = starts.findIndex((s) => s.step === "converge");
    if (clusterAt && converge >= 0) {
      starts.splice(converge + 1, 0, { at: Date.parse(clusterAt[1]!), step: "cluster" });
      starts[converge]!.step = "provision";
    }
    const phaseOf: Record<string, string> = { destroy: "destroy-first", create: "create", provision: "provision", cluster: "cluster", "converge again (idempotence)": "idempotence", verify: "verify" };
    starts.forEach((s, i) => {
      if (phaseOf[s.step]) result.cpu[phaseOf[s.step]!] = cpuBetween(samples, s.at, starts[i + 1]?.at ?? ended);
    });
    // The first converge's cluster phase, as the instance log timed it.
    const cluster = new RegExp(`\\[${plan.nodes[0]!.name} cluster\\] exit 0 after (\\d+) ms`).exec(log);
    if (cluster) {
      result.phases["cluster"] = Number(cluster[1]) / 1000;
      result.phases["provision"] = result.phases["converge"]! - result.phases["cluster"];
    }
    result.memMiB = await nodeMemory(plan);
    result.wall = t.secs;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    const d = await galley(["destroy", plan.name]);
    result.load[1] = os.loadavg()[0]!;
    const destroyed = stepTimes(d.stderr, plan.name, "destroy")["destroy"];
    if (d.code !== 0 || destroyed === undefined) result.error = `${result.error ?? ""}\ngalley destroy ${plan.name} failed (exit ${d.code}):\n${tail(d.stderr)}`.trim();
    else {
      result.phases["destroy"] = destroyed;
      result.wall += destroyed;
    }
    const left = await leftovers(plan);
    if (left.length) result.error = `${result.error ?? ""}\nleft behind by ${plan.name}: ${left.join(", ")}`.trim();
    // Its log and reports too, unless something failed (then they say why) or SCALE_KEEP_LOGS=1.
    if (result.error || process.env["SCALE_KEEP_LOGS"] === "1") console.log(`  ${plan.name}'s log and reports: ${plan.stateDir}`);
    else rmSync(plan.stateDir, { recursive: true, force: true });
  }
  return result;
}

const results: Result[] = [];
for (const n of sizes) {
  const r = await runSize(n);
  results.push(r);
  console.log(`${n} node${n > 1 ? "s" : " "}: ${r.error ? "FAILED" : `${r.wall.toFixed(1)} s`} (load ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)})`);
  if (r.error) console.log(r.error.replace(/^/gm, "  "));
}
if (process.env["SCALE_KEEP_LOGS"] !== "1" && results.every((r) => !r.error)) removeStateDirs();


const secs = (x?: number) => (x === undefined || Number.isNaN(x) ? "—" : x.toFixed(1));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const columns: [string, (r: Result) => string][] = [
  ["nodes", (r) => String(r.n)],
  ...["destroy-first", "create", "provision", "cluster", "idempotence", "verify", "destroy"].map((p): [string, (r: Result) => string] => [p, (r) => secs(r.phases[p])]),
  ["whole", (r) => (r.error ? "FAILED" : secs(r.wall))],
  ["MiB/node median, max", (r) => (r.memMiB.length ? `${median(r.memMiB).toFixed(0)}, ${Math.max(...r.memMiB).toFixed(0)}` : "—")],
  ["load", (r) => `${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)}`],
  ["checks", (r) => r.checks || "—"],
];
console.log(`\nwarm galley test of fixtures/scale per size, seconds; ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; load: 1-min load average before → after`);
const rows = [columns.map(([h]) => h), ...results.map((r) => columns.map(([, f]) => f(r)))];
const widths = columns.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => (i < 9 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd());
console.log(`\nCPU per phase: seconds the node containers used (all nodes) / how busy the machine was (all ${os.cpus().length} cores, everyone's work)`);
const cpuPhases = ["create", "provision", "cluster", "idempotence", "verify"];
const cpuRows = [["nodes", ...cpuPhases, "per node"], ...results.map((r) => {
  const cell = (p: string) => (r.cpu[p] ? `${r.cpu[p]!.nodeSecs.toFixed(1)} / ${(r.cpu[p]!.machineBusy * 100).toFixed(0)}%` : "—");
  const total = cpuPhases.reduce((sum, p) => sum + (r.cpu[p]?.nodeSecs ?? 0), 0);
  return [String(r.n), ...cpuPhases.map(cell), `${(total / r.n).toFixed(1)} s`];
})];
const cpuWidths = cpuRows[0]!.map((_, i) => Math.max(...cpuRows.map((row) => row[i]!.length)));
for (const row of cpuRows) console.log(row.map((cell, i) => cell.padStart(cpuWidths[i]!)).join("  "));

const ok = (n: number) => results.filter((r) => r.n === n && !r.error);
const nodeCpu = (r: Result) => cpuPhases.reduce((sum, p) => sum + (r.cpu[p]?.nodeSecs ?? 0), 0);
if (ok(3).length && ok(9).length) {
  const wall = median(ok(9).map((r) => r.wall)) / median(ok(3).map((r) => r.wall));
  const work = median(ok(9).map(nodeCpu)) / median(ok(3).map(nodeCpu));
  const runs = ok(3).length > 1 || ok(9).length > 1 ? ` (medians of ${ok(3).length} and ${ok(9).length} runs)` : "";
  console.log(`\n9 nodes ÷ 3 nodes: ${wall.toFixed(2)}× wall time (target ≤ 2×), ${work.toFixed(2)}× node CPU${runs}`);
}
console.log("\nwhere the time goes (each part's slowest node):");
for (const r of results) for (const line of r.timings) console.log(`  ${line}`);
if (results.some((r) => r.error)) process.exit(1);
