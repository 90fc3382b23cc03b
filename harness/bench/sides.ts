// The benchmark's shared parts: what galley.yml's static-debian-12 uses (plan, box image, fleet build,
// each node's attributes as an env file) and the two sides every benchmark runs, each timed from
// outside and per phase: Galley's warm `galley test static-debian-12` and raw-cluster.sh (see
// warm-run.ts for what each side does). Not a test: `npm test` never imports it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

export const repo = path.resolve(import.meta.dirname, "../..");
export const INSTANCE = "static-debian-12";

/** A number of rounds from the command line (default `fallback`). */
export function roundsArg(arg: string | undefined, fallback: number): number {
  const rounds = Number(arg ?? fallback);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a whole number ≥ 1, not ${arg}`);
  return rounds;
}

// What the current galley.yml would use: its plan, box image and fleet build (built now if the
// recipe or box changed, so a stale build is never benchmarked).
const found = planInstances(loadConfig(path.join(repo, "galley.yml"))).find((p) => p.name === INSTANCE);
if (!found) throw new Error(`galley.yml defines no instance ${INSTANCE}`);
export const plan = found;
const expected = { path: path.join(repo, "fixtures/fleet-cluster"), script: "provision.sh", clusterScript: "cluster.sh" };
if (plan.provisioner.name !== "shell" || plan.provisioner.path !== expected.path || plan.provisioner.script !== expected.script || plan.provisioner.clusterScript !== expected.clusterScript) {
  throw new Error(`raw-cluster.sh runs ${expected.path}/{provision,cluster}.sh; galley.yml's ${INSTANCE} provisions differently: ${JSON.stringify(plan.provisioner)}`);
}
if (Object.keys(plan.artifacts).join() !== "fleet") throw new Error(`raw-cluster.sh copies the fleet artifact only; ${INSTANCE} has: ${Object.keys(plan.artifacts).join(", ")}`);
if (Object.keys(plan.services).length) throw new Error(`raw-cluster.sh starts no services; ${INSTANCE} has: ${Object.keys(plan.services).join(", ")}`);
export const image = await ensureBox(loadBox(plan.boxDir));
export const fleet = (await resolveArtifact("fleet", plan.artifacts.fleet!)).dir;
export const recipe = await systemdRecipe(image, plan.driver.privileged, labelsFor({ instance: INSTANCE, root: repo }, "probe"));
if (recipe.mode !== "capabilities" || recipe.cgroupVersion !== "1") {
  throw new Error(`raw-cluster.sh knows this host's docker recipe only (capabilities, cgroup v1); Galley uses ${recipe.mode}, cgroup v${recipe.cgroupVersion} here`);
}

// Each node's environment as Galley's shell provisioner makes it, minus the facts raw-cluster.sh sets
// itself once the nodes run (addresses, instance name, folders).
const ownFacts = new Set(["GALLEY_INSTANCE", "GALLEY_NODE_NAME", "GALLEY_NODE_INDEX", "GALLEY_NODE_IP", "GALLEY_NODE_COUNT", "GALLEY_NODES", "GALLEY_DIR", "GALLEY_CHANGES"]);
/** One `<node>.env` per node (ATTR_* and GALLEY_ARTIFACTS), removed when the process exits. */
export const envDir = mkdtempSync(path.join(os.tmpdir(), "galley-bench-env-"));
for (const node of plan.nodes) {
  const env = new ShellProvisioner().environment(plan, { node, ip: "", peers: {} }, REMOTE_DIR);
  const lines = Object.entries(env).filter(([k]) => !ownFacts.has(k)).map(([k, v]) => {
    if (v.includes("\n")) throw new Error(`node ${node.name}: ${k} holds a newline, which docker's --env-file cannot carry`);
    return `${k}=${v}`;
  });
  writeFileSync(path.join(envDir, `${node.name}.env`), lines.join("\n") + "\n");
}

process.on("exit", () => rmSync(envDir, { recursive: true, force: true }));

export interface Run {
  wall: number;
  phases: Record<string, number>;
  checks?: number;
}

export const tail = (text: string, n = 25) => text.trim().split("\n").filter((l) => !l.startsWith("@phase ")).slice(-n).join("\n");

export function runRaw(): Run {
  const start = performance.now();
  const r = spawnSync("bash", [path.join(repo, "harness/bench/raw-cluster.sh"), image, fleet, envDir, ...plan.nodes.map((n) => n.name)], {
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

export function runGalley(): Run {
  const logFile = path.join(plan.stateDir, "galley.log");
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
  // Each galley command starts the instance log anew (the one before becomes galley.log.1): all of it is this run's.
  const log = readFileSync(logFile, "utf8");
  const cluster = new RegExp(`\\[${plan.nodes[0]!.name} cluster\\] exit 0 after (\\d+) ms`).exec(log);
  if (!cluster) throw new Error(`no cluster phase timing in ${logFile} for this run`);
  phases["cluster"] = Number(cluster[1]) / 1000;
  phases["provision"] = phases["converge"]! - phases["cluster"]!;
  const checks = Number(/(\d+) checks passed on/.exec(r.stderr)?.[1] ?? NaN);
  return { wall, phases, checks };
}



export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
