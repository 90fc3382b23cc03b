// Expected failures: matching cells, expiry, and judging a run (xfail, FAIL, XPASS), then how the
// table, JSON and JUnit show it.
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expectationReport, isExpired, isIsoDate, judgeCell, matches, type Column, type Expectation } from "../../src/matrix/expect.ts";
import { formatTable, judge, writeReports } from "../../src/matrix/report.ts";
import type { CellResult, MatrixResult } from "../../src/matrix/run.ts";

const DAY = "2026-11-26";
const v2 = (etcd: string[]): Expectation => ({
  cell: { etcd },
  columns: ["cluster forms", "fleet machines", "test.service"],
  reason: "no v2 API",
});
const proxy: Expectation = { cell: { fleet: "0.8.3" }, columns: "artifacts", reason: "proxy answers 403" };
const NO_V2 = "etcd 3.6.16 does not serve the v2 API";

/** The columns of an etcd 3.6 cell as they really come out: fleet's columns fail, etcd's pass. */
function v36(edit: (c: Record<string, Column>) => void = () => {}): Record<string, Column> {
  const c: Record<string, Column> = {
    artifacts: { state: "pass" },
    "cluster forms": { state: "fail", reason: NO_V2 },
    versions: { state: "pass" },
    "etcd members": { state: "pass" },
    "fleet machines": { state: "fail", reason: NO_V2 },
    "test.service": { state: "fail", reason: NO_V2 },
  };
  edit(c);
  return c;
}

describe("matrix: expected failures", () => {
  it("an expectation covers the cells whose axis labels it lists; an axis it leaves out matches any label", () => {
    expect(matches(v2(["3.6", "latest"]), { etcd: "3.6", fleet: "1.0.0" })).to.equal(true);
    expect(matches(v2(["3.6", "latest"]), { etcd: "latest", fleet: "0.8.3" })).to.equal(true);
    expect(matches(v2(["3.6", "latest"]), { etcd: "3.4.23", fleet: "1.0.0" })).to.equal(false);
    expect(matches({ cell: { etcd: "3.6", fleet: "0.8.3" }, reason: "x" }, { etcd: "3.6", fleet: "1.0.0" })).to.equal(false);
  });

  it("expires after its until day (the day itself still counts); dates must be real", () => {
    expect(isExpired({ ...proxy, until: "2026-11-26" }, DAY)).to.equal(false);
    expect(isExpired({ ...proxy, until: "2026-11-25" }, DAY)).to.equal(true);
    expect(isExpired(proxy, DAY)).to.equal(false);
    expect(isIsoDate("2027-02-28")).to.equal(true);
    expect(isIsoDate("2027-02-30")).to.equal(false);
    expect(isIsoDate("27-2-28")).to.equal(false);
  });

  it("failures where expected are xfail, the cell is as expected, and nothing is news", () => {
    const j = judgeCell({ etcd: "3.6", fleet: "1.0.0" }, v36(), [proxy, v2(["3.6", "3.7"])], DAY);
    expect(j.columns["cluster forms"]).to.deep.include({ outcome: "xfail", expectedBy: ["e2"], reason: NO_V2 });
    expect(j.columns["etcd members"]!.outcome).to.equal("pass");
    expect(j.verdict).to.equal("as expected");
    expect(j.expectations).to.deep.equal(["e2"]);
    expect(j.news).to.deep.equal([]);
  });

  it("a failure nobody expected is FAIL and news naming the cell, the column and the reason", () => {
    const j = judgeCell({ etcd: "3.6", fleet: "1.0.0" }, v36((c) => (c["etcd members"] = { state: "fail", reason: "1 member" })), [v2(["3.6"])], DAY);
    expect(j.columns["etcd members"]!.outcome).to.equal("FAIL");
    expect(j.verdict).to.equal("CHANGED");
    expect(j.news).to.deep.equal(["etcd 3.6 × fleet 1.0.0: etcd members failed, not expected: 1 member"]);
  });

  it("without the expectation, the same cell is news (what removing it from galley.yml does)", () => {
    const j = judgeCell({ etcd: "3.6", fleet: "1.0.0" }, v36(), [proxy], DAY);
    expect(j.verdict).to.equal("CHANGED");
    expect(j.news).to.have.length(3);
    expect(j.news[0]).to.equal(`etcd 3.6 × fleet 1.0.0: cluster forms failed, not expected: ${NO_V2}`);
  });

  it("an expected failure that passes is XPASS and news: the expectation is out of date", () => {
    const j = judgeCell({ etcd: "3.6", fleet: "1.0.0" }, v36((c) => (c["test.service"] = { state: "pass" })), [v2(["3.6"])], DAY);
    expect(j.columns["test.service"]).to.deep.include({ outcome: "XPASS", expectedBy: ["e1"] });
    expect(j.news).to.deep.equal(["etcd 3.6 × fleet 1.0.0: test.service passed, expected to fail (e1)"]);
    expect(j.verdict).to.equal("CHANGED");
  });

  it("a column that did not run says nothing, for or against its expectation", () => {
    const cols: Record<string, Column> = { artifacts: { state: "fail", reason: "403" }, "cluster forms": { state: "not run" }, "test.service": { state: "not run" } };
    const j = judgeCell({ etcd: "3.6", fleet: "0.8.3" }, cols, [proxy, v2(["3.6"])], DAY);
    expect(j.columns.artifacts!.outcome).to.equal("xfail");
    expect(j.columns["test.service"]!.outcome).to.equal("not run");
    expect(j.verdict).to.equal("as expected");
    expect(j.expectations).to.deep.equal(["e1", "e2"]);
  });

  it("a whole-cell expectation takes any failure, and is news once the cell fails nowhere", () => {
    const whole: Expectation = { cell: { fleet: "0.8.3" }, reason: "cannot build" };
    expect(judgeCell({ fleet: "0.8.3" }, { artifacts: { state: "fail", reason: "403" } }, [whole], DAY).columns.artifacts!.outcome).to.equal("xfail");
    const passing = judgeCell({ fleet: "0.8.3" }, { artifacts: { state: "pass" }, versions: { state: "pass" } }, [whole], DAY);
    expect(passing.news).to.deep.equal(["fleet 0.8.3: no column failed, expected to fail (e1)"]);
    expect(passing.verdict).to.equal("CHANGED");
  });

  it("an expired expectation no longer applies: its failures are FAIL, saying it expired, and the run names it", () => {
    const old = { ...v2(["3.6"]), until: "2026-01-31" };
    const j = judgeCell({ etcd: "3.6", fleet: "1.0.0" }, v36(), [old], DAY);
    expect(j.columns["cluster forms"]!.outcome).to.equal("FAIL");
    expect(j.news[0]).to.equal(`etcd 3.6 × fleet 1.0.0: cluster forms failed, not expected (e1 expired on 2026-01-31): ${NO_V2}`);
    const r = expectationReport([{ etcd: "3.6", fleet: "1.0.0" }, { etcd: "3.4.23", fleet: "1.0.0" }], [proxy, old], DAY);
    expect(r.used.map((e) => [e.id, e.expired, e.cells])).to.deep.equal([["e2", true, ["etcd 3.6 × fleet 1.0.0"]]]);
    expect(r.news).to.deep.equal(["expectation e2 (etcd 3.6: cluster forms, fleet machines, test.service) expired on 2026-01-31: no v2 API"]);
  });

  describe("the table, JSON and JUnit", () => {
    const cell = (etcd: string, columns: Record<string, Column>): CellResult => ({
      instance: `matrix-etcd-${etcd}`, values: { etcd, fleet: "1.0.0" }, resolved: {},
      asked: { etcd: { version: etcd === "3.6" ? "3.6.16" : etcd, versionFrom: "VERSION file", sha256: {} } },
      running: { "version.etcd.etcd.infra0": etcd === "3.6" ? "3.6.16" : etcd, "version.fleet.fleetd.infra0": "1.0.0" },
      versionProblems: [], checks: [], ms: 1000,
      columns: Object.fromEntries(Object.entries(columns).map(([k, c]) => [k, { ...c, outcome: c.state === "fail" ? "FAIL" as const : c.state }])),
    });
    const pass = v36((c) => {
      for (const k of Object.keys(c)) c[k] = { state: "pass" };
    });
    const run = (expectations: Expectation[]): MatrixResult => judge({
      startedAt: DAY, wallMs: 1, peakMemoryAboveBaselineBytes: 0, concurrency: 1, columns: Object.keys(pass),
      cells: [cell("3.4.23", pass), cell("3.6", v36())],
    }, expectations, DAY);

    it("marks expected failures apart from surprises and lists the expectations", () => {
      const table = formatTable(run([v2(["3.6"])]));
      expect(table).to.match(/^3\.4\.23\s+1\.0\.0\s+etcd 3\.4\.23 · fleet 1\.0\.0\s+pass\s+pass\s+pass\s+pass\s+pass\s+pass\s+ok$/m);
      expect(table).to.match(/^3\.6 \(3\.6\.16\)\s+1\.0\.0\s+etcd 3\.6\.16 · fleet 1\.0\.0\s+pass\s+xfail \[1\]\s+pass\s+pass\s+xfail \[1\]\s+xfail \[1\]\s+as expected \(e1\)$/m);
      expect(table).to.match(/^ {2}e1 {2}etcd 3\.6: cluster forms, fleet machines, test\.service \(no v2 API\)$/m);
      expect(table).not.to.match(/changed/);
      const surprised = formatTable(run([]));
      expect(surprised).to.match(/^3\.6 \(3\.6\.16\).*FAIL \[1\].*CHANGED$/m);
      expect(surprised).to.match(/^changed \(--strict exits 10\):\n {2}etcd 3\.6 × fleet 1\.0\.0: cluster forms failed, not expected/m);
    });

    it("JSON carries the judgement; in JUnit an expected failure is a skip, a surprise a failure, and properties say what ran", () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "galley-matrix-"));
      const m = run([v2(["3.6"])]);
      writeReports(m, path.join(dir, "r.json"), path.join(dir, "r.xml"));
      const json = JSON.parse(readFileSync(path.join(dir, "r.json"), "utf8")) as MatrixResult;
      expect(json.cells[1]!.verdict).to.equal("as expected");
      expect(json.cells[1]!.columns["cluster forms"]!.outcome).to.equal("xfail");
      expect(json.news).to.deep.equal([]);
      const xml = readFileSync(path.join(dir, "r.xml"), "utf8");
      expect(xml).not.to.match(/<failure /);
      expect(xml.match(/<skipped message="expected failure \(e1: no v2 API\): etcd 3\.6\.16 does not serve the v2 API"\/>/g)).to.have.length(3);
      expect(xml).to.match(/<property name="asked\.etcd" value="3\.6\.16"\/>/);
      expect(xml).to.match(/<property name="version\.etcd\.etcd\.infra0" value="3\.6\.16"\/>/);

      writeReports(run([]), path.join(dir, "r.json"), path.join(dir, "r.xml"));
      expect(readFileSync(path.join(dir, "r.xml"), "utf8").match(/<failure message="etcd 3\.6\.16 does not serve the v2 API"\/>/g)).to.have.length(3);
      const xpass = judge({ ...m, cells: [cell("3.6", pass)] }, [v2(["3.6"])], DAY);
      writeReports(xpass, path.join(dir, "r.json"), path.join(dir, "r.xml"));
      expect(readFileSync(path.join(dir, "r.xml"), "utf8").match(/<failure message="XPASS: expected to fail \(e1: no v2 API\), but passed"\/>/g)).to.have.length(3);
      const expired = judge(m, [{ ...v2(["3.6"]), until: "2025-12-31" }], DAY);
      writeReports(expired, path.join(dir, "r.json"), path.join(dir, "r.xml"));
      expect(readFileSync(path.join(dir, "r.xml"), "utf8")).to.match(/<testcase classname="expected failures" name="e1 etcd 3\.6: [^"]*"><failure message="expired on 2025-12-31: no v2 API"\/>/);
    });
  });
});
