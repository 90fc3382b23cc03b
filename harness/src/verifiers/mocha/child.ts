// Child process that runs an instance's verification suites with mocha. A child, not in-process: ESM
// spec modules cannot be unloaded, and instances verify concurrently.
// Env: GALLEY_INSTANCE, GALLEY_ATTACH, GALLEY_SPECS (JSON list), GALLEY_RESULTS (JSON out), GALLEY_JUNIT,
// GALLEY_TIMEOUT_MS, GALLEY_REPORTER. Started warm (GALLEY_WARM=1, see runner.ts), it loads its modules
// and the suite API, then waits for the engine's go message, which brings that environment.
// Nothing is hidden: a skip without a reason fails, and a spec file that defines no checks fails.
// register.ts comes first: the specs it loads are the project's, resolved through Galley's installation.
import "./register.ts";
import { writeFileSync } from "node:fs";
import path from "node:path";
import Mocha from "mocha";
import { installTimelineSink } from "../../suite-api/chaos.ts";
import { runDestructiveLast } from "../../suite-api/destructive.ts";
import { isolateDestructive } from "../../suite-api/isolation.ts";
import { installReportSink } from "../../suite-api/report.ts";
import { skipReasonOf } from "../../suite-api/skip.ts";
import { junit } from "../junit.ts";
import { countBySuite, type ChaosStepResult, type CheckResult as Result, type PollResult, type VerifyReport } from "../results.ts";

// The engine talks to this child over IPC: when the engine dies (even by kill -9) the channel closes,
// and a verifier left alone must not go on injecting faults into a cluster nobody watches.
// (A 'disconnect' listener keeps the channel, and so this process, alive: it is let go when the run ends.)
let finished = false;
if (process.send) process.on("disconnect", () => finished || process.exit(1));

if (process.env.GALLEY_WARM === "1") {
  // What every spec imports, loaded while the engine still converges; then the go.
  await Promise.all([import("chai"), import("galley/verifier")]);
  await new Promise<void>((resolve) => {
    const go = (m: { galleyGo?: Record<string, string> }) => {
      if (!m?.galleyGo) return;
      process.off("message", go);
      Object.assign(process.env, m.galleyGo);
      delete process.env.GALLEY_WARM;
      resolve();
    };
    process.on("message", go);
    process.send?.({ galleyWarm: true });
  });
}

const results: Result[] = [];
const polls: PollResult[] = [];
const steps: ChaosStepResult[] = [];
installTimelineSink({ poll: (p) => polls.push(p), step: (s) => steps.push(s) });
let startedAt = Date.now();
const { Spec } = Mocha.reporters;
const { EVENT_TEST_BEGIN, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

// report(name, value) from a spec lands on the check that is running.
let properties: Record<string, string> = {};
installReportSink((name, value) => {
  properties[name] = value;
});
const taken = () => {
  const p = properties;
  properties = {};
  return Object.keys(p).length ? { properties: p } : {};
};

/** The top-level suite a test belongs to (its spec file's describe): the unit counts are kept by. */
function topSuite(t: Mocha.Runnable): string {
  let s = t.parent;
  while (s?.parent && !s.parent.root) s = s.parent;
  return s?.title || path.basename(t.file ?? "?");
}

class Collecting extends (process.env.GALLEY_REPORTER === "dot" ? Mocha.reporters.Dot : Spec) {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const names = (t: Mocha.Runnable) => ({ title: t.fullTitle(), suite: topSuite(t), test: t.title, file: t.file, startedAt, endedAt: Date.now() });
    runner.on(EVENT_TEST_BEGIN, () => {
      startedAt = Date.now();
      properties = {};
    });
    runner.on(EVENT_TEST_PASS, (t) => results.push({ ...names(t), state: "passed", ms: t.duration ?? 0, ...taken() }));
    runner.on(EVENT_TEST_PENDING, (t) => {
      const reason = skipReasonOf(t);
      results.push(reason
        ? { ...names(t), state: "pending", ms: 0, skipReason: reason, ...taken() }
        : { ...names(t), state: "failed", ms: 0, error: "skipped without a reason: skip with skipIf(this, condition, reason) from galley/verifier, so a green run says what did not run and why", ...taken() });
    });
    runner.on(EVENT_TEST_FAIL, (t, err) => results.push({ ...names(t), state: "failed", ms: t.duration ?? 0, error: err.message, ...taken() }));
  }
}

const specs = JSON.parse(process.env.GALLEY_SPECS ?? "[]") as string[];
const mocha = new Mocha({ timeout: Number(process.env.GALLEY_TIMEOUT_MS ?? 180_000), reporter: Collecting as never, color: false });
for (const f of specs) mocha.addFile(f);
await mocha.loadFilesAsync();

// A spec file that defines no checks proves nothing: it fails, named.
const perFile = new Map<string, number>(specs.map((f) => [f, 0]));
const countTests = (s: Mocha.Suite) => {
  for (const t of s.tests) if (t.file) perFile.set(t.file, (perFile.get(t.file) ?? 0) + 1);
  s.suites.forEach(countTests);
};
countTests(mocha.suite);
// Suites that change the cluster run after every other (see suite-api/destructive.ts).
const destructive = runDestructiveLast(mocha.suite);
// isolate_destructive: snapshot — each of them starts from the snapshot taken after converge.
if (process.env.GALLEY_ISOLATE_DESTRUCTIVE === "snapshot") isolateDestructive(mocha.suite);

mocha.run((failures) => {
  for (const [file, n] of perFile) {
    if (n === 0) results.push({ title: `${path.basename(file)} defines no checks`, suite: path.basename(file), test: "(no checks)", file, state: "failed", ms: 0, error: `${file} ran no checks: a suite that checks nothing cannot pass` });
  }
  const instance = process.env.GALLEY_INSTANCE ?? "galley";
  const report: VerifyReport = { instance, suites: countBySuite(results), checks: results, polls, chaos: steps, ...(destructive.length ? { destructive } : {}) };
  if (process.env.GALLEY_RESULTS) writeFileSync(process.env.GALLEY_RESULTS, JSON.stringify(report, null, 2));
  if (process.env.GALLEY_JUNIT) writeFileSync(process.env.GALLEY_JUNIT, junit(report));
  process.exitCode = failures || results.some((r) => r.state === "failed") ? 1 : 0;
  finished = true;
  if (process.connected) process.disconnect();
});
