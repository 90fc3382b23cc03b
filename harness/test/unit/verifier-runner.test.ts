// The mocha child (verifiers/mocha/child.ts) that `galley verify` starts, run for real on sample specs: nothing is
// hidden — a skip without a reason fails, a file without checks fails, reasons and reported facts are
// kept, and counts per suite reach verify.json and the JUnit report.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
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
