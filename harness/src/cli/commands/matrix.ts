// galley matrix: the matrix suite over combinations of artifact versions, as a compatibility table.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { InstanceFailure, UserError } from "../../errors.ts";
import { planMatrix } from "../../matrix/plan.ts";
import { say } from "../../util/ui.ts";
import { concurrencyOption, type CliContext } from "../context.ts";

interface MatrixOptions {
  axis: string[];
  json: string;
  junit: string;
  keep?: boolean;
  strict?: boolean;
  from?: string;
  list?: boolean;
  concurrency: number;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("matrix")
    .description("run the matrix suite over combinations of artifact versions and print a compatibility table")
    .option("-a, --axis <axis=values>", "only these values of an axis, e.g. etcd=3.4.23,3.6 (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--json <file>", "results as JSON", ".galley/matrix/results.json")
    .option("--junit <file>", "results as JUnit XML", ".galley/matrix/junit.xml")
    .option("--keep", "keep each cell's instance instead of destroying it")
    .option("--strict", "exit 10 when any cell changed: a failure not in matrix.expected_failures, an expected failure that passed, an expired expectation")
    .option("--from <results.json>", "judge the cells of an earlier run against this config's expected failures, without running them")
    .option("--list", "list the cells without running them")
    .addOption(concurrencyOption())
    .action((opts: MatrixOptions) => matrix(ctx, opts));
}

async function matrix(ctx: CliContext, opts: MatrixOptions): Promise<void> {
  const { runMatrix } = await import("../../matrix/run.ts");
  const { formatTable, judge, writeReports } = await import("../../matrix/report.ts");
  const { today } = await import("../../matrix/expect.ts");
  const selection: Record<string, string[]> = {};
  for (const a of opts.axis) {
    const [axis, values] = a.split("=");
    if (!axis || !values) throw new UserError(`--axis takes AXIS=V1,V2, not ${a}`);
    selection[axis] = values.split(",").filter(Boolean);
  }
  const loaded = ctx.config();
  const cells = planMatrix(loaded, selection);
  if (opts.list) return cells.forEach((c) => say(`${c.plan.name}  ${Object.entries(c.values).map(([a, v]) => `${a}=${v}`).join(" ")}`));
  const expectations = loaded.config.matrix?.expected_failures ?? [];
  let result: import("../../matrix/run.ts").MatrixResult;
  if (opts.from) {
    const file = path.resolve(opts.from);
    let earlier: import("../../matrix/run.ts").MatrixResult;
    try {
      earlier = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new UserError(`--from ${file}: not a matrix results file (${(err as Error).message.split("\n")[0]})`);
    }
    if (!Array.isArray(earlier?.cells)) throw new UserError(`--from ${file}: not a matrix results file (no cells)`);
    const wanted = new Set(cells.map((c) => c.plan.name));
    result = judge({ ...earlier, cells: earlier.cells.filter((c) => wanted.has(c.instance)) }, expectations, today());
    if (!result.cells.length) throw new UserError(`--from ${file}: none of its cells is in this matrix selection`);
  } else {
    result = await runMatrix(cells, { concurrency: opts.concurrency, keep: Boolean(opts.keep), expectations, day: today(), instance: (plan) => ctx.instance(plan) });
  }
  const json = path.resolve(loaded.root, opts.json);
  const junit = path.resolve(loaded.root, opts.junit);
  writeReports(result, json, junit);
  say(formatTable(result));
  const took = opts.from ? `judged from ${opts.from}` : `in ${(result.wallMs / 1000).toFixed(0)} s (-c ${opts.concurrency}); peak memory ${(result.peakMemoryAboveBaselineBytes / 2 ** 30).toFixed(2)} GiB above the start`;
  say(`\n${result.cells.length} cell${result.cells.length === 1 ? "" : "s"} ${took}; ${json}, ${junit}`);
  if (opts.strict && result.news?.length) {
    throw new InstanceFailure("matrix", "matrix", `the matrix changed (--strict):\n${result.news.map((n) => `  ${n}`).join("\n")}`);
  }
}
