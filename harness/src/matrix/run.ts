// Runs the matrix: every cell is a full test of its instance (artifacts → create → converge → verify →
// destroy), cells run side by side up to -c N, and a failing cell never stops the others. Each cell
// gets one column per stage and per verification suite, each pass, fail or skip with a one-line reason
// taken from what the programs said. The `versions` column is the proof that the cell ran what it asked
// for: the versions the nodes reported, compared with each artifact's version and sha256 here.
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { failureOf } from "../errors.ts";
import type { Instance } from "../instance/instance.ts";
import type { InstancePlan } from "../plan/plan.ts";
import { runPool } from "../util/pool.ts";
import { formatMs, line } from "../util/ui.ts";
import { samplePeakMemory } from "../util/memory.ts";
import type { CheckResult } from "../verifiers/results.ts";
import { cellName, type Column, type Expectation, type JudgedColumn, type Judgement } from "./expect.ts";
import type { Cell } from "./plan.ts";
import { judge } from "./report.ts";
import { compareRunning, parseFacts, type Asked } from "./versions.ts";

export type { ColumnState, Column } from "./expect.ts";

export interface CellResult {
  instance: string;
  values: Record<string, string>;
  /** What each axis resolved to, e.g. { etcd: "etcd v3.7.3" } for `latest`. */
  resolved: Record<string, string>;
  /** What the cell asked for, per artifact: its concrete version and its files' sha256. */
  asked: Record<string, Asked>;
  /** The facts the nodes reported about what they run (version.*, series.*, module.*, sha256.*, exe.*). */
  running: Record<string, string>;
  /** Every way the running programs differ from `asked` (the versions column's reasons). */
  versionProblems: string[];
  columns: Record<string, JudgedColumn>;
  /** Set by judging against the expectations. */
  verdict?: Judgement["verdict"];
  expectations?: string[];
  news?: string[];
  checks: CheckResult[];
  ms: number;
}

export interface MatrixResult {
  startedAt: string;
  wallMs: number;
  peakMemoryAboveBaselineBytes: number;
  concurrency: number;
  columns: string[];
  cells: CellResult[];
  /** Set by judging: the day it was judged, the expectations that covered cells, and what changed. */
  judgedOn?: string;
  expectations?: import("./expect.ts").ExpectationReport[];
  news?: string[];
}

export const ARTIFACTS = "artifacts";
export const FORMS = "cluster forms";
export const VERSIONS = "versions";

/** The most telling line of an error: the last one that is not a pointer to a log file. */
export function reasonOf(err: unknown): string {
  const f = failureOf(err);
  let reason: string;
  if (f && "command" in f) {
    // What the program itself said last (a recipe's `die` prefixes its name: drop it).
    const said = f.outputTail.split("\n").map((l) => l.trim()).filter(Boolean).at(-1)?.replace(/^[\w.-]+\.sh: /, "");
    reason = said ?? `${f.command} failed with exit code ${f.exitCode} on ${f.node}`;
  } else if (f && "unit" in f) {
    reason = `unit ${f.unit} on ${f.node} is ${f.state}`;
  } else if (f) {
    reason = `node ${f.node} ${f.status === "timeout" ? "did not finish booting" : `booted ${f.status}`}`;
  } else {
    // An error that is not about a command (a check's assertion, a config problem): its own first line.
    const lines = String((err as Error)?.message ?? err).split("\n").map((l) => l.trim()).filter(Boolean);
    reason = lines.find((l) => !/ failed on \S+:$/.test(l)) ?? lines[0] ?? "";
  }
  return reason.length > 160 ? reason.slice(0, 157) + "…" : reason;
}

const hashes = new Map<string, Promise<string>>();
function sha256File(file: string): Promise<string> {
  let p = hashes.get(file);
  if (!p) {
    p = new Promise((resolve, reject) => {
      const h = createHash("sha256");
      createReadStream(file).on("data", (b) => h.update(b)).on("error", reject).on("end", () => resolve(h.digest("hex")));
    });
    hashes.set(file, p);
  }
  return p;
}

/** sha256 of every file of an artifact folder (not the dot files Galley keeps there). */
async function hashArtifact(dir: string): Promise<Record<string, string>> {
  const files = readdirSync(dir).filter((f) => !f.startsWith(".") && statSync(path.join(dir, f)).isFile()).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await sha256File(path.join(dir, f))] as const)));
}

async function runCell(cell: Cell, keep: boolean, instance: (plan: InstancePlan) => Instance): Promise<CellResult> {
  const start = Date.now();
  const result: CellResult = {
    instance: cell.plan.name, values: cell.values, resolved: {}, asked: {}, running: {}, versionProblems: [], columns: {}, checks: [], ms: 0,
  };
  const columns: Record<string, Column> = {};
  let inst: Instance | undefined;
  try {
    inst = await instance(cell.plan).open(`galley matrix (cell ${cell.plan.name})`);
    // Every artifact, even when one fails: the others still say what the cell asked for.
    const settled = await Promise.allSettled(Object.entries(cell.plan.artifacts).map(async ([n, s]) => {
      const a = await resolveArtifact(n, s);
      result.resolved[a.name] = a.description;
      result.asked[a.name] = { version: a.version, versionFrom: a.versionFrom, sha256: await hashArtifact(a.dir) };
    }));
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) {
      columns[ARTIFACTS] = { state: "fail", reason: reasonOf(failed.reason) };
      return result;
    }
    columns[ARTIFACTS] = { state: "pass" };
    await inst.attempt("destroy");
    const created = await inst.attempt("create");
    if (created) {
      columns[FORMS] = { state: "fail", reason: reasonOf(created) };
      return result;
    }
    const converged = await inst.attempt("converge");
    columns[FORMS] = converged ? { state: "fail", reason: reasonOf(converged) } : { state: "pass" };
    // Verify even when the cluster phase failed: the checks say which facts still hold.
    const verified = await inst.attempt("verify");
    result.checks = inst.lastVerify ?? [];
    if (verified && !result.checks.some((c) => c.state === "failed")) {
      // The verifier itself broke (a spec that does not load, a crashed child): never a pass.
      columns["verify"] = { state: "fail", reason: reasonOf(verified) };
    }
    for (const suite of [...new Set(result.checks.map((c) => c.suite))]) {
      const checks = result.checks.filter((c) => c.suite === suite);
      const failed = checks.find((c) => c.state === "failed");
      columns[suite] = failed
        ? { state: "fail", reason: reasonOf({ message: failed.error?.split("\n")[0] }) }
        : checks.every((c) => c.state === "pending")
          ? { state: "skip", reason: "not applicable" }
          : { state: "pass" };
    }
    // What ran, compared with what was asked. No reported facts is no proof: the column fails.
    const properties = Object.assign({}, ...result.checks.map((c) => c.properties ?? {})) as Record<string, string>;
    const facts = new Set(parseFacts(properties).map((f) => `${f.kind}.${f.artifact}.${f.program}.${f.node}`));
    result.running = Object.fromEntries(Object.entries(properties).filter(([k]) => facts.has(k)).sort(([a], [b]) => a.localeCompare(b)));
    result.versionProblems = compareRunning(result.asked, properties, cell.plan.nodes.map((n) => n.name));
    if (columns[VERSIONS]?.state !== "fail") {
      columns[VERSIONS] = result.versionProblems.length ? { state: "fail", reason: oneLine(result.versionProblems) } : { state: "pass" };
    }
    return result;
  } catch (err) {
    // The cell could not even start (its instance is locked by another galley, say): a failed cell.
    columns[ARTIFACTS] ??= { state: "fail", reason: reasonOf(err) };
    return result;
  } finally {
    result.columns = Object.fromEntries(Object.entries(columns).map(([k, c]) => [k, { ...c, outcome: c.state === "fail" ? "FAIL" : c.state }]));
    if (inst && !keep) await inst.attempt("destroy");
    await inst?.close();
    result.ms = Date.now() - start;
    line(`  cell ${cellName(cell.values)}: ${summary(columns)} (${formatMs(result.ms)})`);
  }
}

/** Several problems in one reason; the JSON keeps each. */
function oneLine(problems: string[]): string {
  const all = problems.join("; ");
  return all.length > 300 ? `${all.slice(0, 297)}…` : all;
}

function summary(columns: Record<string, Column>): string {
  const failed = Object.entries(columns).filter(([, c]) => c.state === "fail").map(([k]) => k);
  return failed.length ? `fails ${failed.join(", ")}` : "passes";
}

export interface MatrixOptions {
  concurrency: number;
  keep: boolean;
  expectations: Expectation[];
  day: string;
  /** An instance wired with its plugins (the CLI's factory; fakes in tests). */
  instance: (plan: InstancePlan) => Instance;
}

export async function runMatrix(cells: Cell[], o: MatrixOptions): Promise<MatrixResult> {
  const started = Date.now();
  const memory = samplePeakMemory();
  const results: CellResult[] = new Array(cells.length);
  // runCell never throws (a failing cell is data), so the pool's results are all fulfilled.
  const settled = await runPool(cells, o.concurrency, (cell) => runCell(cell, o.keep, o.instance));
  settled.forEach((r, i) => { if (r.status === "fulfilled") results[i] = r.value; });
  const { peakAboveBaselineBytes } = memory.stop();
  const suites = new Set(results.flatMap((r) => [...r.checks.map((c) => c.suite), ...(r.columns["verify"] ? ["verify"] : [])]));
  suites.delete(VERSIONS);
  const columns = [ARTIFACTS, FORMS, VERSIONS, ...suites];
  for (const r of results) for (const c of columns) r.columns[c] ??= { state: "not run", outcome: "not run" };
  return judge(
    {
      startedAt: new Date(started).toISOString(),
      wallMs: Date.now() - started,
      peakMemoryAboveBaselineBytes: peakAboveBaselineBytes,
      concurrency: o.concurrency,
      columns,
      cells: results,
    },
    o.expectations,
    o.day,
  );
}
