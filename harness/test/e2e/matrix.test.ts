// The CI slice of the compatibility matrix: etcd 3.4.23 (Debian's .deb) and 3.6 (built from the Go
// module proxy), each with fleet 1.0.0. Each cell must say what the programs really do: 3.4 works end
// to end; 3.6 forms its etcd cluster (checked through the v3 API) but fleet cannot register, for the
// stated reason.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

describe("galley matrix (CI slice: etcd 3.4.23 and 3.6 × fleet 1.0.0)", function () {
  let stdout = "";
  let json: { cells: { values: Record<string, string>; columns: Record<string, { state: string; reason?: string }> }[]; wallMs: number };
  const cell = (etcd: string) => json.cells.find((c) => c.values.etcd === etcd)!.columns;

  before(async () => {
    const r = await galley(["matrix", "--axis", "etcd=3.4.23,3.6", "--axis", "fleet=1.0.0", "-c", "2", "--json", ".galley/ci-matrix.json", "--junit", ".galley/ci-matrix.xml"]);
    expect(r.code, r.stderr).to.equal(0);
    stdout = r.stdout;
    json = JSON.parse(readFileSync(path.join(repo, ".galley", "ci-matrix.json"), "utf8"));
  });

  it("prints one row per combination and a column per stage and suite", () => {
    expect(stdout).to.match(/^etcd\s+fleet\s+artifacts\s+cluster forms\s+etcd members\s+fleet machines\s+etcd leader stats\s+test\.service$/m);
    expect(stdout).to.match(/^3\.4\.23\s+1\.0\.0\s+pass\s+pass\s+pass\s+pass\s+pass\s+pass$/m);
    expect(stdout).to.match(/^3\.6 \(v3\.6\.\d+\)\s+1\.0\.0\s+pass\s+fail \[\d\]\s+pass\s+fail \[\d\]\s+pass\s+fail \[\d\]$/m);
  });

  it("etcd 3.4.23 with fleet 1.0.0 passes every check", () => {
    expect(Object.values(cell("3.4.23")).map((c) => c.state)).to.deep.equal(Array(6).fill("pass"));
  });

  it("etcd 3.6 forms its cluster and names a leader (through v3), but fleet cannot register: the reason says why", () => {
    const c = cell("3.6");
    expect(c["etcd members"]!.state).to.equal("pass");
    expect(c["etcd leader stats"]!.state).to.equal("pass");
    for (const col of ["cluster forms", "fleet machines", "test.service"]) {
      expect(c[col]!.state, col).to.equal("fail");
      expect(c[col]!.reason, col).to.match(/etcd 3\.6\.\d+ does not serve the v2 API \(HTTP 404 on \/v2\/keys.*\): fleet cannot register/);
    }
  });

  it("writes JUnit XML with a test case per cell and column, and leaves no cell behind", async () => {
    const xml = readFileSync(path.join(repo, ".galley", "ci-matrix.xml"), "utf8");
    expect(xml.match(/<testsuite /g)).to.have.length(2);
    expect(xml.match(/<testcase /g)).to.have.length(12);
    expect(xml.match(/<failure /g)).to.have.length(3);
    expect(await leftovers("matrix-etcd-3-4-23-fleet-1-0-0")).to.deep.equal([]);
    expect(await leftovers("matrix-etcd-3-6-fleet-1-0-0")).to.deep.equal([]);
  });
});
