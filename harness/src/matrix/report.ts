// A matrix run as people and CI read it: judged against the expected failures, printed as a table (a
// row per cell; pass, FAIL [n], xfail [n], XPASS per column; what ran; a verdict), and written as JSON
// and JUnit XML that carry the same. Judging is separate from running, so the results of a run can be
// judged again against edited expectations (`galley matrix --from results.json`) without running them.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cellName, describeCoverage, expectationReport, judgeCell, type Expectation, type JudgedColumn } from "./expect.ts";
import type { MatrixResult } from "./run.ts";
import { runningSummary } from "./versions.ts";

/** The result with every cell judged against the expectations on `day`, and the run's news collected. */
export function judge(m: MatrixResult, expectations: Expectation[], day: string): MatrixResult {
  const cells = m.cells.map((r) => {
    const raw = Object.fromEntries(Object.entries(r.columns).map(([k, c]) => [k, { state: c.state, ...(c.reason ? { reason: c.reason } : {}) }]));
    const j = judgeCell(r.values, raw, expectations, day);
    return { ...r, columns: j.columns, verdict: j.verdict, expectations: j.expectations, news: j.news };
  });
  const report = expectationReport(cells.map((c) => c.values), expectations, day);
  return { ...m, cells, judgedOn: day, expectations: report.used, news: [...cells.flatMap((c) => c.news), ...report.news] };
}

function show(col: JudgedColumn, note: (reason: string) => number): string {
  const n = () => (col.reason ? ` [${note(col.reason)}]` : "");
  switch (col.outcome) {
    case "FAIL":
      return `FAIL${n()}`;
    case "xfail":
      return `xfail${n()}`;
    case "skip":
      return `skip${col.reason && col.reason !== "not applicable" ? n() : ""}`;
    default:
      return col.outcome;
  }
}

/** A fixed-width table: a row per cell, a column per stage and suite; reasons as numbered notes below. */
export function formatTable(m: MatrixResult): string {
  const axes = Object.keys(m.cells[0]?.values ?? {});
  const notes: string[] = [];
  const note = (reason: string) => {
    let i = notes.indexOf(reason);
    if (i < 0) i = notes.push(reason) - 1;
    return i + 1;
  };
  const rows = m.cells.map((r) => [
    ...axes.map((a) => {
      const label = r.values[a]!;
      const asked = r.asked?.[a]?.version;
      // Show what a moving label (latest, 3.6) stands for; an exact label needs no echo.
      return asked && asked !== label.replace(/^v/, "") ? `${label} (${asked})` : label;
    }),
    Object.keys(r.running ?? {}).length ? runningSummary(r.running, [...axes, ...Object.keys(r.asked ?? {})]) : "-",
    ...m.columns.map((c) => show(r.columns[c]!, note)),
    r.verdict === "as expected" ? `as expected (${r.expectations!.join(", ")})` : (r.verdict ?? ""),
  ]);
  const header = [...axes, "running", ...m.columns, "verdict"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt), "", ...notes.map((n, i) => `[${i + 1}] ${n}`)];
  if (m.expectations?.length) {
    out.push("", "expected failures:");
    for (const e of m.expectations) {
      out.push(`  ${e.id}  ${describeCoverage(e)} (${e.reason})${e.until ? ` until ${e.until}` : ""}${e.expired ? " EXPIRED" : ""}`);
    }
  }
  if (m.news?.length) out.push("", "changed (--strict exits 10):", ...m.news.map((n) => `  ${n}`));
  return out.join("\n");
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/**
 * JSON as is; JUnit with a test suite per cell (its properties: what was asked and what ran) and a test
 * case per column. A surprise (FAIL, XPASS) is a failure; an expected failure is a skip that says so.
 */
export function writeReports(m: MatrixResult, jsonFile: string, junitFile: string): void {
  for (const f of [jsonFile, junitFile]) mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(jsonFile, JSON.stringify(m, null, 2) + "\n");
  const why = (ids: string[] | undefined) => (ids ?? []).map((id) => `${id}: ${m.expectations?.find((e) => e.id === id)?.reason ?? "?"}`).join("; ");
  const suites = m.cells.map((r) => {
    const name = cellName(r.values);
    const props = [
      ...Object.entries(r.asked ?? {}).flatMap(([a, x]) => [[`asked.${a}`, x.version ?? "unknown"], [`asked.${a}.from`, x.versionFrom]]),
      ...Object.entries(r.running ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    ].map(([k, v]) => `      <property name="${esc(k!)}" value="${esc(v!)}"/>`);
    const cases = m.columns.map((c) => {
      const col = r.columns[c]!;
      const body = {
        pass: "",
        FAIL: `<failure message="${esc(col.reason ?? "")}"/>`,
        XPASS: `<failure message="${esc(`XPASS: expected to fail (${why(col.expectedBy)}), but passed`)}"/>`,
        xfail: `<skipped message="${esc(`expected failure (${why(col.expectedBy)}): ${col.reason ?? ""}`)}"/>`,
        skip: `<skipped message="${esc(col.reason ?? "skipped")}"/>`,
        "not run": `<skipped message="not run"/>`,
      }[col.outcome];
      return `    <testcase classname="${esc(name)}" name="${esc(c)}">${body}</testcase>`;
    });
    // A whole-cell expectation whose cell now passes is news that belongs to no column.
    const cellNews = (r.news ?? []).filter((n) => n.startsWith(`${name}: no column failed`));
    for (const n of cellNews) cases.push(`    <testcase classname="${esc(name)}" name="expected failure"><failure message="${esc(n)}"/></testcase>`);
    const failures = m.columns.filter((c) => ["FAIL", "XPASS"].includes(r.columns[c]!.outcome)).length + cellNews.length;
    const skipped = m.columns.filter((c) => ["xfail", "skip", "not run"].includes(r.columns[c]!.outcome)).length;
    return `  <testsuite name="${esc(name)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${(r.ms / 1000).toFixed(1)}">\n` +
      `    <properties>\n${props.join("\n")}\n    </properties>\n${cases.join("\n")}\n  </testsuite>`;
  });
  // Expired expectations fail on their own, so a CI dashboard shows them even when every cell passes.
  const exp = m.expectations ?? [];
  if (exp.length) {
    const cases = exp.map((e) => `    <testcase classname="expected failures" name="${esc(`${e.id} ${describeCoverage(e)}`)}">${e.expired ? `<failure message="${esc(`expired on ${e.until}: ${e.reason}`)}"/>` : ""}</testcase>`);
    suites.push(`  <testsuite name="expected failures" tests="${exp.length}" failures="${exp.filter((e) => e.expired).length}">\n${cases.join("\n")}\n  </testsuite>`);
  }
  writeFileSync(junitFile, `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="galley matrix">\n${suites.join("\n")}\n</testsuites>\n`);
}
