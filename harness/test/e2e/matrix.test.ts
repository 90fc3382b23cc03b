// The CI slice of the compatibility matrix, judged against galley.yml's expected failures: etcd 3.4.23
// (Debian's .deb) and 3.6 (built from the Go module proxy), each with fleet 1.0.0. 3.4 works end to
// end; 3.6 forms its etcd cluster but fleet cannot register, which galley.yml expects, so --strict
// passes. Each cell proves what it ran (versions, Go modules, sha256 of the running binaries). The same
// results judged without that expectation (fixtures/matrix/galley.yml) exit 10 naming the cell, and a
// cell whose etcd artifact lies about its version fails its versions column, naming both versions.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { ownerFilter } from "../../src/drivers/docker/labels.ts";
import type { MatrixResult } from "../../src/matrix/run.ts";
import { galley, repo, type CliResult } from "./helpers.ts";

const fixture = path.join(repo, "fixtures", "matrix");
const NO_V2 = /etcd 3\.6\.\d+ does not serve the v2 API \(HTTP 404 on \/v2\/keys.*\): fleet cannot register/;

describe("galley matrix --strict (CI slice: etcd 3.4.23 and 3.6 × fleet 1.0.0)", function () {
  let slice: CliResult;
  let lie: CliResult;
  let json: MatrixResult;
  const cell = (etcd: string) => json.cells.find((c) => c.values.etcd === etcd)!;

  before(async () => {
    // The slice and the lying cell are independent runs (different configs, so different projects):
    // run them side by side.
    [slice, lie] = await Promise.all([
      galley(["matrix", "--axis", "etcd=3.4.23,3.6", "--axis", "fleet=1.0.0", "--strict", "-c", "2", "--json", ".galley/ci-matrix.json", "--junit", ".galley/ci-matrix.xml"]),
      galley(["--config", "fixtures/matrix/galley.yml", "matrix", "--axis", "etcd=3.5.16-lie", "--strict", "--json", ".galley/lie.json", "--junit", ".galley/lie.xml"]),
    ]);
    json = JSON.parse(readFileSync(path.join(repo, ".galley", "ci-matrix.json"), "utf8"));
  });

  it("exits 0: every cell is as galley.yml expects, and the table marks the expected failures apart", () => {
    expect(slice.code, slice.stdout + slice.stderr).to.equal(0);
    const out = slice.stdout;
    expect(out).to.match(/^etcd\s+fleet\s+running\s+artifacts\s+cluster forms\s+versions\s+etcd members\s+fleet machines\s+etcd leader stats\s+test\.service\s+verdict$/m);
    expect(out).to.match(/^3\.4\.23\s+1\.0\.0\s+etcd 3\.4\.23 · fleet 1\.0\.0\s+pass\s+pass\s+pass\s+pass\s+pass\s+pass\s+pass\s+ok$/m);
    expect(out).to.match(/^3\.6 \(3\.6\.\d+\)\s+1\.0\.0\s+etcd 3\.6\.\d+ · fleet 1\.0\.0\s+pass\s+xfail \[\d\]\s+pass\s+pass\s+xfail \[\d\]\s+pass\s+xfail \[\d\]\s+as expected \(e2\)$/m);
    expect(out).to.match(/^expected failures:\n {2}e2 {2}etcd 3\.6\|3\.7\|latest: cluster forms, fleet machines, test\.service \(etcd 3\.6 removed the v2 API/m);
    expect(out).not.to.match(/FAIL|XPASS|changed/);
  });

  it("etcd 3.6 forms its cluster and names a leader (through v3), but fleet cannot register: the reason says why", () => {
    const c = cell("3.6").columns;
    expect(c["etcd members"]!.outcome).to.equal("pass");
    expect(c["etcd leader stats"]!.outcome).to.equal("pass");
    for (const col of ["cluster forms", "fleet machines", "test.service"]) {
      expect(c[col]!.outcome, col).to.equal("xfail");
      expect(c[col]!.expectedBy, col).to.deep.equal(["e2"]);
      expect(c[col]!.reason, col).to.match(NO_V2);
    }
  });

  it("each cell proves what every node ran: the asked versions, fleet's module with go.sum's hash, the artifacts' own binaries", () => {
    const fleetSum = readFileSync(path.join(repo, "fixtures/artifacts/fleet/v1.0.0/go.sum"), "utf8").match(/^github\.com\/coreos\/fleet v1\.0\.0 (h1:\S+)$/m)![1];
    for (const etcd of ["3.4.23", "3.6"]) {
      const c = cell(etcd);
      expect(c.columns.versions!.outcome, etcd).to.equal("pass");
      expect(c.versionProblems, etcd).to.deep.equal([]);
      const asked = c.asked.etcd!.version!;
      expect(asked, etcd).to.match(etcd === "3.6" ? /^3\.6\.\d+$/ : /^3\.4\.23$/);
      for (const n of ["infra0", "infra1", "infra2"]) {
        for (const program of ["etcd", "etcdctl", "server"]) expect(c.running[`version.etcd.${program}.${n}`], `${etcd} ${program} ${n}`).to.equal(asked);
        expect(c.running[`series.etcd.cluster.${n}`]).to.equal(asked.replace(/\.\d+$/, ".0"));
        for (const program of ["fleetd", "fleetctl"]) {
          expect(c.running[`version.fleet.${program}.${n}`]).to.equal("1.0.0");
          expect(c.running[`module.fleet.${program}.${n}`]).to.equal(`github.com/coreos/fleet v1.0.0 ${fleetSum}`);
        }
        for (const [artifact, program] of [["etcd", "etcd"], ["etcd", "etcdctl"], ["fleet", "fleetd"], ["fleet", "fleetctl"]] as const) {
          expect(c.running[`sha256.${artifact}.${program}.${n}`], `${etcd} ${program} ${n}`).to.equal(c.asked[artifact]!.sha256[program]).and.match(/^[0-9a-f]{64}$/);
          expect(c.running[`exe.${artifact}.${program}.${n}`]).to.equal(`/usr/local/bin/${program}`);
        }
      }
    }
    // etcd built with Go from the module proxy carries its module; Debian's etcd was built outside module mode.
    expect(cell("3.6").running["module.etcd.etcd.infra0"]).to.match(/^go\.etcd\.io\/etcd\/server\/v3 v3\.6\.\d+ h1:\S+$/);
    expect(cell("3.4.23").running["module.etcd.etcd.infra0"]).to.equal("go.etcd.io/etcd (no module version: built outside module mode)");
  });

  it("JUnit: an expected failure is a skip that says so, not a failure; each cell's properties say what was asked and what ran", () => {
    const xml = readFileSync(path.join(repo, ".galley", "ci-matrix.xml"), "utf8");
    expect(xml.match(/<testsuite name="etcd /g)).to.have.length(2);
    expect(xml.match(/<testcase classname="etcd /g)).to.have.length(14);
    expect(xml).not.to.match(/<failure /);
    expect(xml.match(/<skipped message="expected failure \(e2: etcd 3\.6 removed the v2 API[^"]*\): etcd 3\.6\.\d+ does not serve the v2 API/g)).to.have.length(3);
    expect(xml).to.match(/<property name="asked\.etcd" value="3\.6\.\d+"\/>/);
    expect(xml).to.match(/<property name="version\.etcd\.server\.infra2" value="3\.4\.23"\/>/);
    expect(xml).to.match(/<testcase classname="expected failures" name="e2 etcd 3\.6\|3\.7\|latest: [^"]*"><\/testcase>/);
  });

  it("the same results without the etcd 3.6 expectation (fixtures/matrix/galley.yml) exit 10, naming the cell and what failed", async () => {
    const r = await galley(["--config", "fixtures/matrix/galley.yml", "matrix", "--from", ".galley/ci-matrix.json", "--axis", "etcd=3.4.23,3.6", "--strict", "--json", ".galley/rejudged.json", "--junit", ".galley/rejudged.xml"]);
    expect(r.code, r.stdout + r.stderr).to.equal(10);
    expect(r.stdout).to.match(/^3\.6 \(3\.6\.\d+\)\s+1\.0\.0\s+.*\s+pass\s+FAIL \[\d\]\s+pass\s+pass\s+FAIL \[\d\]\s+pass\s+FAIL \[\d\]\s+CHANGED$/m);
    expect(r.stdout).to.match(/^3\.4\.23\s+1\.0\.0\s+.*\s+ok$/m);
    expect(r.stderr).to.match(/the matrix changed \(--strict\):\n {2}etcd 3\.6 × fleet 1\.0\.0: cluster forms failed, not expected: etcd 3\.6\.\d+ does not serve the v2 API/);
    expect(r.stderr).to.match(/^ {2}etcd 3\.6 × fleet 1\.0\.0: test\.service failed, not expected: /m);
    expect(r.stderr).not.to.match(/etcd 3\.4\.23 × fleet/);
    expect(readFileSync(path.join(fixture, ".galley", "rejudged.xml"), "utf8").match(/<failure message="etcd 3\.6\.\d+ does not serve the v2 API/g)).to.have.length(3);
  });

  it("a cell whose etcd artifact says 3.5.16 while the nodes run 3.4.23 fails its versions column (only that one), naming both", () => {
    expect(lie.code, lie.stdout + lie.stderr).to.equal(10);
    const result = JSON.parse(readFileSync(path.join(fixture, ".galley", "lie.json"), "utf8")) as MatrixResult;
    const c = result.cells[0]!;
    expect(c.asked.etcd).to.deep.include({ version: "3.5.16", versionFrom: "VERSION file" });
    const failed = Object.entries(c.columns).filter(([, col]) => col.outcome !== "pass").map(([k]) => k);
    expect(failed).to.deep.equal(["versions"]);
    expect(c.columns.versions!.reason).to.match(/^asked etcd 3\.5\.16, all 3 nodes run 3\.4\.23 \(etcd, (etcdctl, server|server, etcdctl)\); all 3 nodes report the 3\.4 series \(cluster\)$/);
    expect(lie.stdout).to.match(/^3\.5\.16-lie \(3\.5\.16\)\s+1\.0\.0\s+etcd 3\.4\.23 · fleet 1\.0\.0\s+pass\s+pass\s+FAIL \[1\]/m);
    expect(lie.stderr).to.match(/etcd 3\.5\.16-lie × fleet 1\.0\.0: versions failed, not expected: asked etcd 3\.5\.16, all 3 nodes run 3\.4\.23/);
  });

  it("leaves no cell behind", async () => {
    // This checkout's cells only (instance and project labels): other checkouts may run the same cells now.
    const d = new Docker();
    const mine = async (instance: string, root: string) => {
      const filters = ownerFilter({ instance, root });
      const [c, n, v] = await Promise.all([d.listContainers({ all: true, filters }), d.listNetworks({ filters }), d.listVolumes({ filters })]);
      return [...c.map((x) => `container ${x.Names[0]}`), ...n.map((x) => `network ${x.Name}`), ...(v.Volumes ?? []).map((x) => `volume ${x.Name}`)];
    };
    expect(await mine("matrix-etcd-3-4-23-fleet-1-0-0", repo)).to.deep.equal([]);
    expect(await mine("matrix-etcd-3-6-fleet-1-0-0", repo)).to.deep.equal([]);
    expect(await mine("matrix-etcd-3-5-16-lie-fleet-1-0-0", fixture)).to.deep.equal([]);
  });
});
