// Benchmark (not a test: `npm test` never runs it). How much a warm `galley test static-debian-12`
// costs beside raw-cluster.sh, a bare docker script doing the same cluster work.
//
// What each side does (same box image, same fleet build, same provisioning and attributes):
//   galley  `node harness/bin/galley.js test static-debian-12`: destroy-first → create (boot) →
//           converge (provision every node, then the cluster phase) → converge again (idempotence) →
//           verify (the mocha suites' checks) → destroy (teardown); plus its own start-up (Node, tsx,
//           config) and its state and log files.
//   raw     `bash raw-cluster.sh`: destroy-first → boot → provision → cluster phase → teardown, docker
//           CLI only (see its header). No idempotence converge, no checks.
// Both are timed by wall clock from outside, process spawn to exit, and per phase: Galley's from its
// `✓ <step> <instance> (<time>)` lines (its cluster phase from the instance log, provision being the
// converge minus it), raw's from the `@phase` timestamps it prints on stderr.
// Two ratios against the raw run: "whole" (everything each side does) and "same work" (Galley's whole
// minus its idempotence converge and verification, which raw does not do).
// Rounds alternate which side goes first (round 1 raw then galley, round 2 galley then raw, …), and
// the medians over the rounds are printed.
// usage: node --import tsx harness/bench/warm-run.ts [rounds=3]
//   RAW_BREAK_NODE=infra1 (or =cluster) makes raw-cluster.sh break that node's provisioning (or the
//   cluster phase) with a bad attribute: the benchmark then stops with raw's error naming it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveArtifact } from "../src/artifacts/resolve.ts";
import { loadConfig } from "../src/config/load.ts";
import { loadBox } from "../src/boxes/definition.ts";
import { ensureBox } from "../src/drivers/docker/box.ts";
import { labelsFor } from "../src/drivers/docker/labels.ts";
import { systemdRecipe } from "../src/drivers/docker/systemd.ts";
import { planInstances } from "../src/plan/plan.ts";
import { REMOTE_DIR } from "../src/provisioners/converge.ts";
import { ShellProvisioner } from "../src/provisioners/shell.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const rounds = Number(process.argv[2] ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a whole number ≥ 1, not ${process.argv[2]}`);
const INSTANCE = "static-debian-12";

// --- What the current galley.yml would use: its plan, box image and fleet build (built now if the
// recipe or box changed, so a stale build is never benchmarked).
const plan = planInstances(loadConfig(path.join(repo, "galley.yml"))).find((p) => p.name === INSTANCE);
if (!plan) throw new Error(`galley.yml defines no instance ${INSTANCE}`);
const expected = { path: path.join(repo, "fixtures/fleet-cluster"), script: "provision.sh", clusterScript: "cluster.sh" };
if (plan.provisioner.name !== "shell" || plan.provisioner.path !== expected.path || plan.provisioner.script !== expected.script || plan.provisioner.clusterScript !== expected.clusterScript) {
  throw new Error(`raw-cluster.sh runs ${expected.path}/{provision,cluster}.sh; galley.yml's ${INSTANCE} provisions differently: ${JSON.stringify(plan.provisioner)}`);
}
if (Object.keys(plan.artifacts).join() !== "fleet") throw new Error(`raw-cluster.sh copies the fleet artifact only; ${INSTANCE} has: ${Object.keys(plan.artifacts).join(", ")}`);
if (Object.keys(plan.services).length) throw new Error(`raw-cluster.sh starts no services; ${INSTANCE} has: ${Object.keys(plan.services).join(", ")}`);
const image = await ensureBox(loadBox(plan.boxDir));
const fleet = (await resolveArtifact("fleet", plan.artifacts.fleet!)).dir;
const recipe = await systemdRecipe(image, plan.driver.privileged, labelsFor({ instance: INSTANCE, root: repo }, "probe"));
if (recipe.mode !== "capabilities" || recipe.cgroupVersion !== "1") {
  throw new Error(`raw-cluster.sh knows this host's docker recipe only (capabilities, cgroup v1); Galley uses ${recipe.mode}, cgroup v${recipe.cgroupVersion} here`);
}

// Each node's environment as Galley's shell provisioner makes it, minus the facts raw-cluster.sh sets
// itself once the nodes run (addresses, instance name, folders).
const ownFacts = new Set(["GALLEY_INSTANCE", "GALLEY_NODE_NAME", "GALLEY_NODE_INDEX", "GALLEY_NODE_IP", "GALLEY_NODE_COUNT", "GALLEY_NODES", "GALLEY_DIR", "GALLEY_CHANGES"]);
const envDir = mkdtempSync(path.join(os.tmpdir(), "galley-bench-env-"));
for (const node of plan.nodes) {
  const env = new ShellProvisioner().environment(plan, { node, ip: "", peers: {} }, REMOTE_DIR);
  const lines = Object.entries(env).filter(([k]) => !ownFacts.has(k)).map(([k, v]) => {
    if (v.includes("\n")) throw new Error(`node ${node.name}: ${k} holds a newline, which docker's --env-file cannot carry`);
    return `${k}=${v}`;
  });
  writeFileSync(path.join(envDir, `${node.name}.env`), lines.join("\n") + "\n");
}

interface Run {
  wall: number;
  phases: Record<string, number>;
  checks?: number;
}

const tail = (text: string, n = 25) => text.trim().split("\n").filter((l) => !l.startsWith("@phase ")).slice(-n).join("\n");

function runRaw(): Run {
  const start = performance.now();
  const r = spawnSync("bash", [path.join(repo, "harness/bench/raw-cluster.sh"), image, fleet, envDir, ...plan!.nodes.map((n) => n.name)], {
    encoding: "utf8",
    env: { ...process.env, RAW_CAP_DROP: recipe.capDrop.join(",") },
  });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`raw-cluster.sh failed (exit ${r.status ?? r.signal}):\n${tail(r.stderr)}`);
  const marks = [...r.stderr.matchAll(/^@phase (\S+) ([\d.]+)$/gm)].map((m) => ({ name: m[1]!, at: Number(m[2]) }));
  const phases: Record<string, number> = {};
  for (let i = 0; i + 1 < marks.length; i++) phases[marks[i]!.name] = marks[i + 1]!.at - marks[i]!.at;
  for (const p of ["destroy-first", "boot", "provision", "cluster", "teardown"]) {
    if (phases[p] === undefined) throw new Error(`raw-cluster.sh printed no @phase ${p}:\n${tail(r.stderr)}`);
  }
  phases["converge"] = phases["provision"]! + phases["cluster"]!;
  return { wall, phases };
}

function runGalley(): Run {
  const logFile = path.join(plan!.stateDir, "galley.log");
  const logStart = sizeOf(logFile);
  const start = performance.now();
  const r = spawnSync(process.execPath, [path.join(repo, "harness/bin/galley.js"), "test", INSTANCE], {
    cwd: repo,
    encoding: "utf8",
    env: { ...process.env, CI: "1" },
  });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`galley test ${INSTANCE} failed (exit ${r.status ?? r.signal}):\n${tail(r.stderr)}`);
  // Steps in the order `galley test` runs them: the first destroy is destroy-first, the last teardown.
  const names: Record<string, string> = { create: "boot", converge: "converge", "converge again (idempotence)": "idempotence", verify: "verify" };
  const phases: Record<string, number> = {};
  const steps = [...r.stderr.matchAll(new RegExp(`^✓ (.+?)\\s+${INSTANCE} \\(([\\d.]+) (ms|s)\\)$`, "gm"))];
  for (const m of steps) {
    const secs = Number(m[2]) / (m[3] === "ms" ? 1000 : 1);
    const name = m[1] === "destroy" ? (phases["destroy-first"] === undefined ? "destroy-first" : "teardown") : names[m[1]!];
    if (!name) throw new Error(`unexpected step in galley's output: ${m[0]}`);
    phases[name] = secs;
  }
  for (const p of ["destroy-first", "boot", "converge", "idempotence", "verify", "teardown"]) {
    if (phases[p] === undefined) throw new Error(`galley printed no ✓ line for ${p}:\n${tail(r.stderr)}`);
  }
  // The first converge's cluster phase, as the instance log timed it (`[infra0 cluster] exit 0 after N ms`).
  const log = readFileSync(logFile, "utf8").slice(logStart);
  const cluster = new RegExp(`\\[${plan!.nodes[0]!.name} cluster\\] exit 0 after (\\d+) ms`).exec(log);
  if (!cluster) throw new Error(`no cluster phase timing in ${logFile} for this run`);
  phases["cluster"] = Number(cluster[1]) / 1000;
  phases["provision"] = phases["converge"]! - phases["cluster"]!;
  const checks = Number(/(\d+) checks passed on/.exec(r.stderr)?.[1] ?? NaN);
  return { wall, phases, checks };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const raws: Run[] = [];
const galleys: Run[] = [];
let failure: unknown;
try {
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (["raw", "galley"] as const) : (["galley", "raw"] as const);
    const took: string[] = [];
    for (const side of order) {
      const run = side === "raw" ? runRaw() : runGalley();
      (side === "raw" ? raws : galleys).push(run);
      took.push(`${side} ${run.wall.toFixed(1)} s`);
    }
    console.log(`round ${i + 1}/${rounds} (${order.join(" first, then ")}): ${took.join(", ")}`);
  }
} catch (err) {
  failure = err;
} finally {
  rmSync(envDir, { recursive: true, force: true });
}
if (failure) {
  console.error(failure instanceof Error ? failure.message : String(failure));
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const med = (runs: Run[], phase: string) => (runs.every((r) => r.phases[phase] !== undefined) ? median(runs.map((r) => r.phases[phase]!)) : undefined);
const secs = (x?: number) => (x === undefined ? "—" : `${x.toFixed(x < 1 ? 2 : 1)} s`).padStart(8);
const ratio = (g?: number, r?: number) => (g === undefined || r === undefined || r === 0 ? "" : `${(g / r).toFixed(2)}×`.padStart(8));
const row = (label: string, r?: number, g?: number) => console.log(`${label.padEnd(40)}${secs(r)}${secs(g)}${ratio(g, r)}`);

const phaseNames = ["destroy-first", "boot", "provision", "cluster", "converge", "idempotence", "verify", "teardown"];
const sumPhases = (run: Run) => ["destroy-first", "boot", "converge", "idempotence", "verify", "teardown"].reduce((s, p) => s + (run.phases[p] ?? 0), 0);
const rawWhole = median(raws.map((r) => r.wall));
const galleyWhole = median(galleys.map((r) => r.wall));
const galleySame = median(galleys.map((r) => r.wall - r.phases["idempotence"]! - r.phases["verify"]!));
const checks = median(galleys.map((r) => r.checks ?? NaN));

console.log(`\nmedians over ${rounds} round${rounds > 1 ? "s" : ""}; fleet ${path.basename(fleet)}, box ${image}`);
console.log(`${"".padEnd(40)}${"raw".padStart(8)}${"galley".padStart(8)}${"g/raw".padStart(8)}`);
for (const p of phaseNames) row(p === "converge" ? "converge (provision + cluster)" : p === "verify" ? `verify (${checks} checks)` : p, med(raws, p), med(galleys, p));
row("outside the phases (start-up, gaps)", median(raws.map((r) => r.wall - sumPhases(r))), median(galleys.map((r) => r.wall - sumPhases(r))));
row("whole: spawn to exit", rawWhole, galleyWhole);
row("same work: whole − idempotence − verify", rawWhole, galleySame);
