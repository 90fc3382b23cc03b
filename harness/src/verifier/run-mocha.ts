// Child process that runs an instance's verification suites with mocha. A child, not in-process: ESM
// spec modules cannot be unloaded, and instances verify concurrently.
// Env: GALLEY_INSTANCE, GALLEY_CONFIG, GALLEY_SPECS (JSON list), GALLEY_RESULTS (JSON out), GALLEY_JUNIT,
// GALLEY_TIMEOUT_MS, GALLEY_REPORTER.
import { writeFileSync } from "node:fs";
import Mocha from "mocha";
import type { CheckResult as Result } from "./mocha.ts";
import { installReportSink } from "./report.ts";


const results: Result[] = [];
const { Spec, Base } = Mocha.reporters;
const { EVENT_TEST_BEGIN, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

// report(name, value) from a spec lands on the check that is running.
let properties: Record<string, string> = {};
installReportSink((name, value) => { properties[name] = value; });
const taken = () => {
  const p = properties;
  properties = {};
  return Object.keys(p).length ? { properties: p } : {};
};

class Collecting extends (process.env.GALLEY_REPORTER === "dot" ? Mocha.reporters.Dot : Spec) {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const names = (t: Mocha.Runnable) => ({ title: t.fullTitle(), suite: t.parent?.fullTitle() ?? "", test: t.title });
    runner.on(EVENT_TEST_BEGIN, () => { properties = {}; });
    runner.on(EVENT_TEST_PASS, (t) => results.push({ ...names(t), state: "passed", ms: t.duration ?? 0, ...taken() }));
    runner.on(EVENT_TEST_PENDING, (t) => results.push({ ...names(t), state: "pending", ms: 0, ...taken() }));
    runner.on(EVENT_TEST_FAIL, (t, err) => results.push({ ...names(t), state: "failed", ms: t.duration ?? 0, error: err.message, ...taken() }));
  }
}
void Base;

const mocha = new Mocha({ timeout: Number(process.env.GALLEY_TIMEOUT_MS ?? 180_000), reporter: Collecting as never, color: false });
for (const f of JSON.parse(process.env.GALLEY_SPECS ?? "[]") as string[]) mocha.addFile(f);
await mocha.loadFilesAsync();
mocha.run((failures) => {
  if (process.env.GALLEY_RESULTS) writeFileSync(process.env.GALLEY_RESULTS, JSON.stringify(results, null, 2));
  if (process.env.GALLEY_JUNIT) writeFileSync(process.env.GALLEY_JUNIT, junit(process.env.GALLEY_INSTANCE ?? "galley", results));
  process.exitCode = failures ? 1 : 0;
});

function junit(suite: string, rs: Result[]): string {
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
  const cases = rs.map((r) => {
    const props = Object.entries(r.properties ?? {}).map(([k, v]) => `<property name="${esc(k)}" value="${esc(v)}"/>`).join("");
    const body = (props ? `<properties>${props}</properties>` : "") +
      (r.state === "failed" ? `<failure message="${esc(r.error!.split("\n")[0]!)}">${esc(r.error!)}</failure>` : r.state === "pending" ? "<skipped/>" : "");
    return `  <testcase classname="${esc(suite)}" name="${esc(r.title)}" time="${(r.ms / 1000).toFixed(3)}">${body}</testcase>`;
  });
  const failures = rs.filter((r) => r.state === "failed").length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${esc(suite)}" tests="${rs.length}" failures="${failures}">\n${cases.join("\n")}\n</testsuite>\n`;
}
