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
import path from "node:path";
import { fleet, image, median, roundsArg, runGalley, runRaw, type Run } from "./sides.ts";

const rounds = roundsArg(process.argv[2], 3);

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
}
if (failure) {
  console.error(failure instanceof Error ? failure.message : String(failure));
  process.exit(1);
}

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
