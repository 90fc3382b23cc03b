// The mocha child (verifiers/mocha/child.ts) that `galley verify` starts, run for real on sample specs: nothing is
// hidden — a skip without a reason fails, a file without checks fails, reasons and reported facts are
// kept, and counts per suite reach verify.json and the JUnit report.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { InstancePlan } from "../../src/plan/plan.ts";
import { InstanceLog } from "../../src/util/instance-log.ts";
import { MochaVerifier } from "../../src/verifiers/mocha/runner.ts";
import type { VerifyReport } from "../../src/verifiers/results.ts";

const here = import.meta.dirname;
const runner = path.resolve(here, "../../src/verifiers/mocha/child.ts");

describe("the verifier's mocha runner", function () {
  let report: VerifyReport;
  let junit: string;
  let status: number | null;
  before(function () {
    this.timeout(60_000);
    const out = mkdtempSync(path.join(os.tmpdir(), "galley-runner-"));
    const r = spawnSync(process.execPath, ["--import", "tsx", runner], {
      cwd: path.resolve(here, "../../.."),
      encoding: "utf8",
      env: {
        ...process.env,
        GALLEY_INSTANCE: "sample",
        GALLEY_SPECS: JSON.stringify(["skips.spec.ts", "empty.spec.ts"].map((f) => path.join(here, "verifier-specs", f))),
        GALLEY_RESULTS: path.join(out, "verify.json"),
        GALLEY_JUNIT: path.join(out, "junit.xml"),
        GALLEY_REPORTER: "dot",
      },
    });
    status = r.status;
    report = JSON.parse(readFileSync(path.join(out, "verify.json"), "utf8"));
    junit = readFileSync(path.join(out, "junit.xml"), "utf8");
    rmSync(out, { recursive: true, force: true });
  });

  const check = (test: string) => report.checks.find((c) => c.test === test)!;

  it("exits non-zero when anything failed", () => {
    expect(status).to.equal(1);
  });

  it("keeps a skip's reason, and fails a skip that gives none", () => {
    expect(check("is skipped with a reason")).to.include({ state: "pending", skipReason: "needs a follower" });
    expect(check("never runs")).to.include({ state: "pending", skipReason: "a single-node cluster" });
    for (const t of ["is skipped without one", "is marked skip in the file"]) {
      expect(check(t).state, t).to.equal("failed");
      expect(check(t).error, t).to.match(/^skipped without a reason/);
    }
  });

  it("fails a spec file that defines no checks", () => {
    const empty = report.checks.find((c) => c.file?.endsWith("empty.spec.ts"))!;
    expect(empty).to.include({ state: "failed", test: "(no checks)" });
    expect(empty.error).to.match(/empty\.spec\.ts ran no checks/);
  });

  it("keeps what a check reported, and the failure's diff text", () => {
    expect(check("passes and reports a fact").properties).to.deep.equal({ "version.etcd.infra0": "3.4.23" });
    expect(check("fails with a diff").error).to.match(/expected \{ a: 1 \} to deeply equal \{ a: 2 \}/);
  });

  it("counts passed, failed and skipped per suite, in verify.json and JUnit", () => {
    expect(report.suites).to.deep.equal([
      { suite: "runner sample", passed: 1, failed: 3, skipped: 1 },
      { suite: "runner sample, skipped from a hook", passed: 0, failed: 0, skipped: 1 },
      { suite: "empty.spec.ts", passed: 0, failed: 1, skipped: 0 },
    ]);
    expect(junit).to.match(/<testsuite name="runner sample" tests="5" failures="3" skipped="1">/);
    expect(junit).to.match(/<property name="version.etcd.infra0" value="3.4.23"\/>/);
    expect(junit).to.match(/<skipped message="needs a follower"\/>/);
  });
});

describe("the verifier's mocha runner, for a project outside Galley's repository", function () {
  // A folder with no node_modules: `galley/verifier` and chai must come from Galley's installation; a
  // TypeScript and a JavaScript spec both run, and a destructive suite runs after the others although
  // its file comes first.
  let report: VerifyReport;
  let status: number | null;
  let stderr: string;
  before(function () {
    this.timeout(60_000);
    const project = mkdtempSync(path.join(os.tmpdir(), "galley-project-"));
    // An ES module project: its imports go through Galley's resolve hooks. (A CommonJS project's
    // require() does not on Node 20: it resolves from its own node_modules, which `npm i -D galley` fills.)
    writeFileSync(path.join(project, "package.json"), '{ "type": "module" }\n');
    writeFileSync(path.join(project, "00-failover.spec.ts"), [
      'import { expect } from "chai";',
      'import { destructive } from "galley/verifier";',
      'describe("failover", function () {',
      '  destructive(this, "stops the primary");',
      '  it("breaks the cluster", () => {',
      '    const g = globalThis as { broken?: boolean };',
      '    g.broken = true;',
      '    expect(g.broken).to.equal(true);',
      "  });",
      "});",
      "",
    ].join("\n"));
    writeFileSync(path.join(project, "01-checks.spec.mjs"), [
      'import { expect } from "chai";',
      'import { skipIf } from "galley/verifier";',
      'describe("checks", function () {',
      '  it("run on an unbroken cluster", () => {',
      '    expect(typeof skipIf).to.equal("function");',
      "    expect(globalThis.broken).to.equal(undefined);",
      "  });",
      "});",
      "",
    ].join("\n"));
    // As the engine starts it from Galley's sources: Galley's own tsx, by absolute URL.
    const r = spawnSync(process.execPath, ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href, runner], {
      cwd: project,
      encoding: "utf8",
      env: {
        ...process.env,
        GALLEY_INSTANCE: "sample",
        GALLEY_SPECS: JSON.stringify(["00-failover.spec.ts", "01-checks.spec.mjs"].map((f) => path.join(project, f))),
        GALLEY_RESULTS: path.join(project, "verify.json"),
        GALLEY_REPORTER: "dot",
      },
    });
    status = r.status;
    stderr = r.stderr;
    try {
      report = JSON.parse(readFileSync(path.join(project, "verify.json"), "utf8"));
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it("runs both specs, the destructive suite last, and says which suites were destructive", () => {
    expect(status, stderr).to.equal(0);
    expect(report.checks.map((c) => [c.title, c.state])).to.deep.equal([
      ["checks run on an unbroken cluster", "passed"],
      ["failover breaks the cluster", "passed"],
    ]);
    expect(report.destructive).to.deep.equal(["failover"]);
  });
});

describe("the mocha verifier started early (warmUp, as galley test does before its idempotence converge)", function () {
  this.timeout(60_000);
  let dir: string;
  const plan = (name: string) => ({
    name,
    root: path.resolve(here, "../../.."),
    stateDir: dir,
    verifier: { suites: [path.join(here, "verifier-specs", "pid.spec.ts")], timeoutMs: 30_000, reporter: "dot" },
  }) as unknown as InstancePlan;
  const verifyWith = (v: MochaVerifier, name: string) =>
    v.verify({ plan: plan(name), attachFile: path.join(dir, "attach.json"), log: new InstanceLog(dir), fault: async () => {} });
  const facts = (r: VerifyReport) => r.checks[0]!.properties ?? {};
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-warm-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the checks in the child it started early, with the instance's settings sent at verify", async () => {
    const v = new MochaVerifier();
    v.warmUp(plan("sample"));
    const pid = (v as unknown as { warm: { proc: { pid: number } } }).warm.proc.pid;
    const r = await verifyWith(v, "sample");
    expect(facts(r)).to.deep.equal({ pid: String(pid), instance: "sample", warm: "(unset)" });
  });

  it("a warm child of another instance is not used, and is stopped", async () => {
    const v = new MochaVerifier();
    v.warmUp(plan("other"));
    const pid = (v as unknown as { warm: { proc: { pid: number } } }).warm.proc.pid;
    const r = await verifyWith(v, "sample");
    expect(facts(r).pid).to.not.equal(String(pid));
    expect(facts(r).instance).to.equal("sample");
    for (const deadline = Date.now() + 5_000; alive(pid) && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 50));
    expect(alive(pid), "the unused warm child").to.equal(false);
  });

  it("dispose stops a warm child that verify never used", async () => {
    const v = new MochaVerifier();
    v.warmUp(plan("sample"));
    const pid = (v as unknown as { warm: { proc: { pid: number } } }).warm.proc.pid;
    v.dispose();
    for (const deadline = Date.now() + 5_000; alive(pid) && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 50));
    expect(alive(pid)).to.equal(false);
  });
});
