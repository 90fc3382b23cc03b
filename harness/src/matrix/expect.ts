// Expected failures, the way InSpec has waivers: galley.yml's matrix.expected_failures names cells (by
// axis values) and optionally columns that are known to fail, with a reason and an optional expiry
// date. Judging a run against them turns each column into pass, FAIL (a surprise), xfail (failed as
// expected), XPASS (expected to fail but passed), skip or not run; anything that changed is news, and
// `galley matrix --strict` exits 10 on news. Pure: no I/O, "today" is a parameter.

export type ColumnState = "pass" | "fail" | "skip" | "not run";
export interface Column {
  state: ColumnState;
  reason?: string;
}

export interface Expectation {
  /** axis → the label (or labels) covered; an axis left out matches every label. */
  cell: Record<string, string | string[]>;
  /** Columns expected to fail; without them, the cell is expected to fail somewhere. */
  columns?: string | string[];
  reason: string;
  /** YYYY-MM-DD, the last day the expectation holds. */
  until?: string;
}

export type Outcome = "pass" | "FAIL" | "xfail" | "XPASS" | "skip" | "not run";

export interface JudgedColumn extends Column {
  outcome: Outcome;
  /** Ids ("e1") of the expectations that expect this column to fail. */
  expectedBy?: string[];
}

export interface Judgement {
  columns: Record<string, JudgedColumn>;
  /** Ids of the (unexpired) expectations covering the cell. */
  expectations: string[];
  /** What changed, one sentence each, naming the cell. */
  news: string[];
  /** ok: no expectation involved and nothing failed; as expected: failed where expected; CHANGED: news. */
  verdict: "ok" | "as expected" | "CHANGED";
}

export { isIsoDate, STAGE_COLUMNS } from "../config/matrix-columns.ts";

export const expectationId = (index: number) => `e${index + 1}`;
const labels = (v: string | string[]) => [v].flat();
const columnsOf = (e: Expectation) => (e.columns === undefined ? undefined : labels(e.columns));

export function matches(e: Expectation, values: Record<string, string>): boolean {
  return Object.entries(e.cell).every(([axis, want]) => values[axis] !== undefined && labels(want).includes(values[axis]!));
}

/** Past its `until` day (the day itself still counts). */
export function isExpired(e: Expectation, today: string): boolean {
  return e.until !== undefined && e.until < today;
}

export const today = (now = new Date()) => now.toISOString().slice(0, 10);

export function cellName(values: Record<string, string>): string {
  return Object.entries(values).map(([a, v]) => `${a} ${v}`).join(" × ");
}

/** "etcd 3.6|3.7|latest: cluster forms, test.service" — what an expectation covers. */
export function describeCoverage(e: Expectation): string {
  const cell = Object.entries(e.cell).map(([a, v]) => `${a} ${labels(v).join("|")}`).join(" × ");
  return `${cell}: ${columnsOf(e)?.join(", ") ?? "any column"}`;
}

/**
 * Judges one cell's columns against the expectations (indexed as in the config, so ids are stable).
 * An expectation with columns judges only those columns, and only where they ran: a column that was
 * not run or skipped says nothing. One without columns expects the cell to fail somewhere.
 */
export function judgeCell(values: Record<string, string>, columns: Record<string, Column>, expectations: Expectation[], day: string): Judgement {
  const name = cellName(values);
  const covering = expectations.map((e, i) => ({ e, id: expectationId(i) })).filter(({ e }) => matches(e, values));
  const live = covering.filter(({ e }) => !isExpired(e, day));
  const expired = covering.filter(({ e }) => isExpired(e, day));
  const news: string[] = [];
  const judged: Record<string, JudgedColumn> = {};
  const wholeCell = live.filter(({ e }) => !columnsOf(e));
  const anyFailed = Object.values(columns).some((c) => c.state === "fail");

  for (const [col, c] of Object.entries(columns)) {
    const byColumn = live.filter(({ e }) => columnsOf(e)?.includes(col)).map(({ id }) => id);
    const expectedBy = [...byColumn, ...(c.state === "fail" ? wholeCell.map(({ id }) => id) : [])];
    if (c.state === "fail") {
      if (expectedBy.length) judged[col] = { ...c, outcome: "xfail", expectedBy };
      else {
        judged[col] = { ...c, outcome: "FAIL" };
        const lapsed = expired.filter(({ e }) => !columnsOf(e) || columnsOf(e)!.includes(col));
        const note = lapsed.length ? ` (${lapsed.map(({ id, e }) => `${id} expired on ${e.until}`).join(", ")})` : "";
        news.push(`${name}: ${col} failed, not expected${note}: ${c.reason ?? "(no reason given)"}`);
      }
    } else if (c.state === "pass" && byColumn.length) {
      judged[col] = { ...c, outcome: "XPASS", expectedBy: byColumn };
      news.push(`${name}: ${col} passed, expected to fail (${byColumn.join(", ")})`);
    } else {
      judged[col] = { ...c, outcome: c.state === "pass" ? "pass" : c.state };
    }
  }
  if (wholeCell.length && !anyFailed) news.push(`${name}: no column failed, expected to fail (${wholeCell.map(({ id }) => id).join(", ")})`);
  const xfailed = Object.values(judged).some((c) => c.outcome === "xfail");
  return {
    columns: judged,
    expectations: live.map(({ id }) => id),
    news,
    verdict: news.length ? "CHANGED" : xfailed ? "as expected" : "ok",
  };
}

export interface ExpectationReport extends Expectation {
  id: string;
  expired: boolean;
  /** Cells of this run it covers. */
  cells: string[];
}

/** The expectations that cover cells of this run, and news for each that has expired. */
export function expectationReport(cells: Record<string, string>[], expectations: Expectation[], day: string): { used: ExpectationReport[]; news: string[] } {
  const used: ExpectationReport[] = [];
  const news: string[] = [];
  expectations.forEach((e, i) => {
    const covered = cells.filter((v) => matches(e, v)).map(cellName);
    if (!covered.length) return;
    const r = { ...e, id: expectationId(i), expired: isExpired(e, day), cells: covered };
    used.push(r);
    if (r.expired) news.push(`expectation ${r.id} (${describeCoverage(e)}) expired on ${e.until}: ${e.reason}`);
  });
  return { used, news };
}
