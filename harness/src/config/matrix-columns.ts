// The columns a matrix run will have, known before it runs, so an expectation naming a column that does
// not exist is a config error rather than a silent no-op: the stages, plus one column per top-level
// `describe("title", …)` of the matrix suite's spec files (a column is the suite title of its checks).
// Here, not in matrix/, because loading galley.yml checks `matrix.expected_failures` and the matrix
// loads the config: config must not import the matrix.
import { readFileSync } from "node:fs";
import path from "node:path";
import { specFiles } from "../util/spec-files.ts";

/** Columns every cell has (the suite columns come from the suite's checks). */
export const STAGE_COLUMNS = ["artifacts", "cluster forms", "versions", "verify"] as const;

/** True for an existing calendar day written YYYY-MM-DD (an expectation's `until`). */
export function isIsoDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const TOP_LEVEL_DESCRIBE = /^describe\(\s*(["'`])((?:\\.|(?!\1).)*)\1/gm;

/** Top-level describe titles of the spec files under `suites` (files or folders, from `root`). */
export function suiteTitles(root: string, suites: string[]): string[] {
  const files = specFiles(suites.map((s) => path.resolve(root, s)));
  return [...new Set(files.flatMap((f) => [...readFileSync(f, "utf8").matchAll(TOP_LEVEL_DESCRIBE)].map((m) => m[2]!)))];
}

/** Every column name a cell of the matrix can have; a nested describe's column starts with its parent's title. */
export function knownColumn(column: string, titles: string[]): boolean {
  return (STAGE_COLUMNS as readonly string[]).includes(column) || titles.some((t) => column === t || column.startsWith(`${t} `));
}
