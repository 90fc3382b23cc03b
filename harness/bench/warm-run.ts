// Benchmark (not a test): Galley's warm `galley test static-debian-12` against raw-cluster.sh, the
// same provisioning done by a bare docker script. Prints each phase and the ratios.
// usage: node --import tsx harness/bench/warm-run.ts [runs=3]
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { loadBox } from "../src/drivers/docker/box.ts";
import { cacheDir } from "../src/util/cache.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const runs = Number(process.argv[2] ?? 3);
const image = loadBox(path.join(repo, "boxes/debian-12")).image;
const fleetRoot = cacheDir("artifacts", "fleet");
const fleet = readdirSync(fleetRoot).filter((d) => /^v1\.0\.0-[0-9a-f]+$/.test(d)).map((d) => path.join(fleetRoot, d))[0];
if (!fleet) throw new Error("run `npx galley test` once first: the box and fleet must be cached");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const raw: number[] = [];
const galley: number[] = [];
const phases: Record<string, number[]> = {};
for (let i = 0; i < runs; i++) {
  raw.push(Number(execFileSync("bash", [path.join(repo, "harness/bench/raw-cluster.sh"), image, fleet]).toString().trim()));
  const start = performance.now();
  const r = spawnSync(process.execPath, [path.join(repo, "harness/bin/galley.js"), "test", "static-debian-12"], { cwd: repo, encoding: "utf8", env: { ...process.env, CI: "1" } });
  galley.push((performance.now() - start) / 1000);
  if (r.status !== 0) throw new Error(`galley test failed:\n${r.stderr}`);
  for (const m of r.stderr.matchAll(/✓ (\S+(?: again \(idempotence\))?)\s+static-debian-12 \(([\d.]+) (ms|s)\)/g)) {
    const key = m[1]!;
    (phases[key] ??= []).push(Number(m[2]) / (m[3] === "ms" ? 1000 : 1));
  }
}
const g = median(galley);
const r0 = median(raw);
console.log(`runs: ${runs} (medians)`);
console.log(`raw docker script (boot 3 nodes, provision, start test.service, tear down): ${r0.toFixed(1)} s`);
console.log(`galley test static-debian-12: ${g.toFixed(1)} s`);
for (const [k, v] of Object.entries(phases)) console.log(`  ${k.padEnd(28)} ${median(v).toFixed(1)} s`);
const cc = median(phases["create"] ?? [0]) + median(phases["converge"] ?? [0]);
console.log(`ratio galley test / raw: ${(g / r0).toFixed(2)}`);
console.log(`ratio galley create+converge / raw: ${(cc / r0).toFixed(2)}  (galley test adds destroy-first, idempotence and 8 checks)`);
