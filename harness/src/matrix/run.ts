// Runs the matrix: every cell is a full test of its instance (artifacts → create → converge → verify →
// destroy), cells run side by side up to -c N, and a failing cell never stops the others. Each cell
// gets one column per stage and per verification suite, each pass, fail or skip with a one-line reason
// taken from what the programs said.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { Instance } from "../instance/runner.ts";
import { formatMs, line } from "../util/ui.ts";
import { samplePeakMemory } from "../util/memory.ts";
import type { CheckResult } from "../verifier/mocha.ts";
import type { Cell } from "./plan.ts";

export type ColumnState = "pass" | "fail" | "skip" | "not run";
export interface Column {
  state: ColumnState;
  reason?: string;
}

export interface CellResult {
  instance: string;
  values: Record<string, string>;
  /** What each axis resolved to, e.g. { etcd: "etcd v3.7.3" } for `latest`. */
  resolved: Record<string, string>;
  columns: Record<string, Column>;
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
}

const ARTIFACTS = "artifacts";
const FORMS = "cluster forms";

/** The most telling line of an error: the last one that is not a pointer to a log file. */
export function reasonOf(err: unknown): string {
  const lines = String((err as Error)?.message ?? err).split("\n").map((l) => l.trim()).filter(Boolean)
    .filter((l) => !/^\((full output|log): /.test(l) && !/^full log /.test(l));
  const telling = lines.filter((l) => !/^(node \S+.*failed with exit code|last output:|timed out after)/.test(l));
  const pick = (telling.at(-1) ?? lines.at(-1) ?? "").replace(/^build\.sh: /, "");
  return pick.length > 160 ? pick.slice(0, 157) + "…" : pick;
}

async function runCell(cell: Cell, keep: boolean): Promise<CellResult> {
  const start = Date.now();
  const result: CellResult = { instance: cell.plan.name, values: cell.values, resolved: {}, columns: {}, checks: [], ms: 0 };
  let inst: Instance | undefined;
  try {
    inst = await new Instance(cell.plan).open();
    try {
      const resolved = await Promise.all(Object.entries(cell.plan.artifacts).map(([n, s]) => resolveArtifact(n, s)));
      for (const a of resolved) result.resolved[a.name] = a.description;
      result.columns[ARTIFACTS] = { state: "pass" };
    } catch (err) {
      result.columns[ARTIFACTS] = { state: "fail", reason: reasonOf(err) };
      return result;
    }
    await inst.attempt("destroy");
    const created = await inst.attempt("create");
    if (created) {
      result.columns[FORMS] = { state: "fail", reason: reasonOf(created) };
      return result;
    }
    const converged = await inst.attempt("converge");
    result.columns[FORMS] = converged ? { state: "fail", reason: reasonOf(converged) } : { state: "pass" };
    // Verify even when the cluster phase failed: the checks say which facts still hold.
    const verified = await inst.attempt("verify");
    result.checks = inst.lastVerify ?? [];
    if (verified && !result.checks.some((c) => c.state === "failed")) {
      // The verifier itself broke (a spec that does not load, a crashed child): never a pass.
      result.columns["verify"] = { state: "fail", reason: reasonOf(verified) };
    }
    for (const suite of [...new Set(result.checks.map((c) => c.suite))]) {
      const checks = result.checks.filter((c) => c.suite === suite);
      const failed = checks.find((c) => c.state === "failed");
      result.columns[suite] = failed
        ? { state: "fail", reason: reasonOf({ message: failed.error?.split("\n")[0] }) }
        : checks.every((c) => c.state === "pending")
          ? { state: "skip", reason: "not applicable" }
          : { state: "pass" };
    }
    return result;
  } catch (err) {
    // The cell could not even start (its instance is locked by another galley, say): a failed cell.
    result.columns[ARTIFACTS] ??= { state: "fail", reason: reasonOf(err) };
    return result;
  } finally {
    if (inst && !keep) await inst.attempt("destroy");
    await inst?.close();
    result.ms = Date.now() - start;
    line(`  cell ${Object.entries(cell.values).map(([a, v]) => `${a} ${v}`).join(" × ")}: ${summary(result)} (${formatMs(result.ms)})`);
  }
}

function summary(r: CellResult): string {
  const failed = Object.entries(r.columns).filter(([, c]) => c.state === "fail").map(([k]) => k);
  return failed.length ? `fails ${failed.join(", ")}` : "passes";
}

export async function runMatrix(cells: Cell[], o: { concurrency: number; keep: boolean }): Promise<MatrixResult> {
  const started = Date.now();
  const memory = samplePeakMemory();
  const results: CellResult[] = new Array(cells.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cells.length; i = next++) results[i] = await runCell(cells[i]!, o.keep);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, cells.length) }, worker));
  const { peakAboveBaselineBytes } = memory.stop();
  const columns = [ARTIFACTS, FORMS, ...new Set(results.flatMap((r) => [...r.checks.map((c) => c.suite), ...(r.columns["verify"] ? ["verify"] : [])]))];
  for (const r of results) for (const c of columns) r.columns[c] ??= { state: "not run" };
  return {
    startedAt: new Date(started).toISOString(),
    wallMs: Date.now() - started,
    peakMemoryAboveBaselineBytes: peakAboveBaselineBytes,
    concurrency: o.concurrency,
    columns,
    cells: results,
  };
}

/** A fixed-width table: a row per cell, a column per stage and suite; reasons as numbered notes below. */
export function formatTable(m: MatrixResult): string {
  const axes = Object.keys(m.cells[0]?.values ?? {});
  const notes: string[] = [];
  const rows = m.cells.map((r) => [
    ...axes.map((a) => {
      const resolved = r.resolved[a]?.split(" ").pop();
      const label = r.values[a]!;
      // Show what a moving label (latest, 3.6) resolved to; an exact label needs no echo.
      return resolved && resolved.replace(/^v/, "") !== label && !resolved.includes("=") ? `${label} (${resolved})` : label;
    }),
    ...m.columns.map((c) => {
      const col = r.columns[c]!;
      if (!col.reason || col.state === "pass") return col.state;
      let n = notes.indexOf(col.reason);
      if (n < 0) n = notes.push(col.reason) - 1;
      return `${col.state} [${n + 1}]`;
    }),
  ]);
  const header = [...axes, ...m.columns];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt), "", ...notes.map((n, i) => `[${i + 1}] ${n}`)].join("\n");
}

export function writeReports(m: MatrixResult, jsonFile: string, junitFile: string): void {
  for (const f of [jsonFile, junitFile]) mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(jsonFile, JSON.stringify(m, null, 2) + "\n");
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
  const suites = m.cells.map((r) => {
    const name = Object.entries(r.values).map(([a, v]) => `${a} ${v}`).join(" × ");
    const cases = m.columns.map((c) => {
      const col = r.columns[c]!;
      const body = col.state === "fail" ? `<failure message="${esc(col.reason ?? "")}"/>` : col.state === "pass" ? "" : `<skipped message="${esc(col.reason ?? col.state)}"/>`;
      return `    <testcase classname="${esc(name)}" name="${esc(c)}">${body}</testcase>`;
    });
    const failures = m.columns.filter((c) => r.columns[c]!.state === "fail").length;
    return `  <testsuite name="${esc(name)}" tests="${m.columns.length}" failures="${failures}" time="${(r.ms / 1000).toFixed(1)}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  writeFileSync(junitFile, `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="galley matrix">\n${suites.join("\n")}\n</testsuites>\n`);
}
