// Benchmark (not a test: `npm test` never runs it). A cold `galley test static-debian-12`: nothing of
// Galley's cached — no box image, no layer, no .debs, no fleet build, no host probe — and where its time
// goes, beside a baseline run of the same cold test.
//
// Sides (each run gets a cache folder and an image namespace of its own, GALLEY_CACHE and
// GALLEY_BOX_IMAGES, so nothing another checkout uses is read or removed):
//   mmdebstrap   the default: the system layer by mmdebstrap, then the packages and box layers
//   debootstrap  the baseline: the same layers, the system layer by debootstrap (GALLEY_BOOTSTRAP)
// With --go-cold the Go module and build caches are private and empty too (the fleet build then
// downloads and compiles everything: nothing at all cached); without it they are the machine's.
// Per phase, from Galley's `✓ <step> (<time>)` lines: the system layer (the rootfs bootstrap and its
// import), the packages layer, the box layer (customize.sh and Galley's set-up), the fleet build (it
// runs beside the box build), create (the box build included), converge, the idempotence converge,
// verify, and the whole run from spawn to exit. Rounds alternate which side goes first; medians and the
// ratio of each median to the baseline's are printed.
// usage: node --import tsx harness/bench/cold-run.ts [rounds=1] [--go-cold] [--keep]
//   --keep leaves each run's images and cache folder (their names are printed) instead of removing them.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";

const repo = path.resolve(import.meta.dirname, "../..");
const INSTANCE = "static-debian-12";
const args = process.argv.slice(2);
const keep = args.includes("--keep");
const goCold = args.includes("--go-cold");
const unknown = args.filter((a) => a.startsWith("--") && a !== "--keep" && a !== "--go-cold");
if (unknown.length) throw new Error(`unknown option ${unknown.join(", ")}; usage: cold-run.ts [rounds] [--go-cold] [--keep]`);
const rounds = Number(args.find((a) => !a.startsWith("--")) ?? 1);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a whole number ≥ 1`);

const SIDES = ["mmdebstrap", "debootstrap"] as const;
type Side = (typeof SIDES)[number];
const BASELINE: Side = "debootstrap";

/** Phase name → the `✓ …` line it is read from. */
const PHASES: [string, RegExp][] = [
  ["system layer (bootstrap + import)", /^✓ build system layer /],
  ["packages layer", /^✓ build packages layer /],
  ["box layer (customize, set-up)", /^✓ build box \S+ on its layers /],
  ["fleet build (beside the box)", /^✓ build fleet /],
  ["create (box build included)", new RegExp(`^✓ create +${INSTANCE} `)],
  ["converge", new RegExp(`^✓ converge +${INSTANCE} `)],
  ["idempotence converge", /^✓ converge again \(idempotence\) /],
  ["verify", new RegExp(`^✓ verify +${INSTANCE} `)],
];

interface Run {
  wall: number;
  phases: Record<string, number>;
  load: number;
}

const seconds = (m: RegExpExecArray) => Number(m[1]) / (m[2] === "ms" ? 1000 : 1);

async function runCold(side: Side, round: number): Promise<Run> {
  const cache = mkdtempSync(path.join(os.tmpdir(), `galley-bench-cold-${side}-`));
  const images = `galley-bench-cold-${process.pid}-${side}-${round}`;
  const env: NodeJS.ProcessEnv = { ...process.env, GALLEY_CACHE: cache, GALLEY_BOX_IMAGES: images, GALLEY_BOOTSTRAP: side, GALLEY_VERBOSE: "" };
  if (goCold) Object.assign(env, { GOMODCACHE: path.join(cache, "go-mod"), GOCACHE: path.join(cache, "go-build") });
  const load = os.loadavg()[0]!;
  const start = performance.now();
  let output = "";
  try {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [path.join(repo, "harness/bin/galley.js"), "test", INSTANCE], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.on("data", (b: Buffer) => (output += b));
      child.stderr.on("data", (b: Buffer) => (output += b));
      child.on("close", (c) => resolve(c ?? 1));
    });
    const wall = (performance.now() - start) / 1000;
    if (code !== 0) throw new Error(`${side} round ${round}: galley test ${INSTANCE} failed (exit ${code}):\n${output.trim().split("\n").slice(-25).join("\n")}`);
    const phases: Record<string, number> = {};
    for (const l of output.split("\n")) {
      for (const [name, re] of PHASES) {
        if (!re.test(l)) continue;
        const m = /\((\d+(?:\.\d+)?) (s|ms)\)$/.exec(l.trim());
        if (m) phases[name] = seconds(m);
      }
    }
    return { wall, phases, load };
  } finally {
    if (keep) console.log(`  kept: cache ${cache}, images ${images}/*`);
    else {
      await removeImages(images);
      rmSync(cache, { recursive: true, force: true });
    }
  }
}

/** Every image tagged under the run's own namespace, children first (a layer below another cannot go first). */
async function removeImages(namespace: string): Promise<void> {
  const d = new Docker();
  for (let pass = 0; pass < 4; pass++) {
    const mine = (await d.listImages()).filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`${namespace}/`)));
    if (!mine.length) return;
    for (const img of mine) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
  }
  const left = (await d.listImages()).filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`${namespace}/`)));
  if (left.length) console.error(`could not remove ${left.flatMap((i) => i.RepoTags).join(", ")}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const runs: Record<Side, Run[]> = { mmdebstrap: [], debootstrap: [] };
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? SIDES : [...SIDES].reverse();
  const took: string[] = [];
  for (const side of order) {
    const run = await runCold(side, i + 1);
    runs[side].push(run);
    took.push(`${side} ${run.wall.toFixed(1)} s (load ${run.load.toFixed(1)})`);
  }
  console.log(`round ${i + 1}/${rounds} (${order.join(" first, then ")}): ${took.join(", ")}`);
}

const secs = (x?: number) => (x === undefined ? "—" : `${x.toFixed(1)} s`).padStart(10);
const med = (side: Side, phase: string) => (runs[side].every((r) => r.phases[phase] !== undefined) ? median(runs[side].map((r) => r.phases[phase]!)) : undefined);
console.log(`\nmedians over ${rounds} round${rounds > 1 ? "s" : ""}; Go caches ${goCold ? "private and empty (nothing cached)" : "the machine's"}; load average ${median(SIDES.flatMap((s) => runs[s].map((r) => r.load))).toFixed(1)} at the starts`);
console.log(`${"phase".padEnd(36)}${SIDES.map((s) => s.padStart(12)).join("")}   ratio`);
const row = (label: string, values: (number | undefined)[]) => {
  const base = values[SIDES.indexOf(BASELINE)];
  const mine = values[0];
  const ratio = base && mine !== undefined ? `${(mine / base).toFixed(2)}×` : "";
  console.log(`${label.padEnd(36)}${values.map((v) => secs(v).padStart(12)).join("")}   ${ratio}`);
};
for (const [name] of PHASES) row(name, SIDES.map((s) => med(s, name)));
row("whole run (spawn to exit)", SIDES.map((s) => median(runs[s].map((r) => r.wall))));
console.log(`(ratio: ${SIDES[0]} ÷ ${BASELINE})`);
