// The versions column's comparison: what each node reported running against what the cell asked for.
import { expect } from "chai";
import { compareRunning, factName, parseFacts, runningSummary, type Asked } from "../../src/matrix/versions.ts";

const nodes = ["infra0", "infra1", "infra2"];
const SHA = { etcd: "a".repeat(64), etcdctl: "b".repeat(64), fleetd: "c".repeat(64), fleetctl: "d".repeat(64) };

/** What three nodes running etcd `v` and fleet 1.0.0 from the artifacts report. */
function reported(v = "3.6.16", edit: (p: Record<string, string>) => void = () => {}): Record<string, string> {
  const p: Record<string, string> = { "some.other": "property" };
  for (const n of nodes) {
    p[`version.etcd.etcd.${n}`] = v;
    p[`version.etcd.server.${n}`] = v;
    p[`series.etcd.cluster.${n}`] = v.replace(/\.\d+$/, ".0");
    p[`version.etcd.etcdctl.${n}`] = v;
    p[`module.etcd.etcd.${n}`] = `go.etcd.io/etcd/server/v3 v${v} h1:xyz=`;
    p[`sha256.etcd.etcd.${n}`] = SHA.etcd;
    p[`sha256.etcd.etcdctl.${n}`] = SHA.etcdctl;
    p[`exe.etcd.etcd.${n}`] = "/usr/local/bin/etcd";
    p[`version.fleet.fleetd.${n}`] = "1.0.0";
    p[`module.fleet.fleetd.${n}`] = "github.com/coreos/fleet v1.0.0 h1:xyIHQvFdFW3G36HL3qMWsQLQ0OWbh7KvcRrwqF0dNeg=";
    p[`sha256.fleet.fleetd.${n}`] = SHA.fleetd;
    p[`sha256.fleet.fleetctl.${n}`] = SHA.fleetctl;
  }
  edit(p);
  return p;
}

const asked = (etcd = "3.6.16"): Record<string, Asked> => ({
  etcd: { version: etcd, versionFrom: "VERSION file", sha256: { etcd: SHA.etcd, etcdctl: SHA.etcdctl, VERSION: "e".repeat(64) } },
  fleet: { version: "1.0.0", versionFrom: "VERSION file", sha256: { fleetd: SHA.fleetd, fleetctl: SHA.fleetctl } },
});

describe("matrix: running versions against the asked ones", () => {
  it("names facts <kind>.<artifact>.<program>.<node> and reads them back, ignoring other properties", () => {
    expect(factName("version", "etcd", "server", "infra1")).to.equal("version.etcd.server.infra1");
    expect(() => factName("version", "etcd", "a.b", "infra1")).to.throw(/no dot/);
    expect(parseFacts({ "version.etcd.server.infra1": "3.6.16", "some.other": "x", "version.x": "y" })).to.deep.equal([
      { kind: "version", artifact: "etcd", program: "server", node: "infra1", value: "3.6.16" },
    ]);
  });

  it("finds nothing to say when every node runs the asked versions from the artifacts' binaries", () => {
    expect(compareRunning(asked(), reported(), nodes)).to.deep.equal([]);
    // A v prefix or +incompatible is the same version.
    expect(compareRunning(asked("v3.6.16".slice(1)), reported("3.6.16", (p) => (p["version.etcd.etcd.infra0"] = "v3.6.16")), nodes)).to.deep.equal([]);
  });

  it("names the asked and the running version when one node runs another etcd", () => {
    const p = reported("3.6.16", (p) => {
      p["version.etcd.etcd.infra1"] = "3.4.23";
      p["version.etcd.server.infra1"] = "3.4.23";
    });
    expect(compareRunning(asked(), p, nodes)).to.deep.equal(["asked etcd 3.6.16, infra1 runs 3.4.23 (etcd, server)"]);
  });

  it("an artifact whose VERSION lies: every node runs 3.4.23 while 3.5.16 was asked, in one sentence", () => {
    const problems = compareRunning(asked("3.5.16"), reported("3.4.23"), nodes);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.equal(
      "asked etcd 3.5.16, all 3 nodes run 3.4.23 (etcd, server, etcdctl); all 3 nodes report the 3.4 series (cluster); all 3 nodes run a build of go.etcd.io/etcd/server/v3 v3.4.23 (etcd)",
    );
  });

  it("compares a series (etcd's cluster version) by major.minor only", () => {
    expect(compareRunning(asked(), reported("3.6.16", (p) => (p["series.etcd.cluster.infra2"] = "3.6.0")), nodes)).to.deep.equal([]);
    expect(compareRunning(asked(), reported("3.6.16", (p) => (p["series.etcd.cluster.infra2"] = "3.5.0")), nodes))
      .to.deep.equal(["asked etcd 3.6.16, infra2 reports the 3.5 series (cluster)"]);
  });

  it("fleet's version stamp is not enough: the module compiled in must be the asked version too", () => {
    const p = reported("3.6.16", (p) => (p["module.fleet.fleetd.infra0"] = "github.com/coreos/fleet v0.11.8 h1:abc="));
    expect(compareRunning(asked(), p, nodes)).to.deep.equal(["asked fleet 1.0.0, infra0 runs a build of github.com/coreos/fleet v0.11.8 (fleetd)"]);
    // A binary built outside module mode (Debian's etcd) has no module version to compare.
    const debian = reported("3.6.16", (p) => (p["module.etcd.etcd.infra0"] = "go.etcd.io/etcd (no module version: built outside module mode)"));
    expect(compareRunning(asked(), debian, nodes)).to.deep.equal([]);
  });

  it("the same version is not proof: a running binary that is not the artifact's (the box's own etcd) is named", () => {
    const p = reported("3.6.16", (p) => {
      p["sha256.etcd.etcd.infra0"] = "f".repeat(64);
      p["exe.etcd.etcd.infra0"] = "/usr/bin/etcd";
    });
    expect(compareRunning(asked(), p, nodes)).to.deep.equal([
      `infra0 runs etcd (/usr/bin/etcd) with sha256 ${"f".repeat(12)}…, not artifact etcd's ${"a".repeat(12)}…`,
    ]);
    const extra = reported("3.6.16", (p) => (p["sha256.fleet.fleetadm.infra2"] = "0".repeat(64)));
    expect(compareRunning(asked(), extra, nodes)).to.deep.equal(["infra2 runs fleetadm, which artifact fleet does not provide"]);
  });

  it("no report is no proof: missing facts for an asked artifact fail, per node", () => {
    expect(compareRunning(asked(), {}, nodes)).to.deep.equal([
      "no node reported a running version of etcd (a versions spec reports version.etcd.<program>.<node>)",
      "no node reported the sha256 of a running etcd executable (a versions spec reports sha256.etcd.<program>.<node>)",
      "no node reported a running version of fleet (a versions spec reports version.fleet.<program>.<node>)",
      "no node reported the sha256 of a running fleet executable (a versions spec reports sha256.fleet.<program>.<node>)",
    ]);
    const partial = reported("3.6.16", (p) => {
      for (const k of Object.keys(p)) if (k.startsWith("version.etcd.") && k.endsWith(".infra2")) delete p[k];
    });
    expect(compareRunning(asked(), partial, nodes)).to.deep.equal(["infra2 reported no running version of etcd"]);
  });

  it("an artifact of unknown version cannot pass, saying why", () => {
    const a = asked();
    a.etcd = { ...a.etcd!, version: undefined, versionFrom: "no VERSION file in /opt/etcd and no version in its binaries (etcd)" };
    expect(compareRunning(a, reported(), nodes)).to.deep.equal([
      "artifact etcd has no known version: no VERSION file in /opt/etcd and no version in its binaries (etcd)",
    ]);
  });

  it("summarises what ran in one line, axes first, several versions side by side", () => {
    expect(runningSummary(reported(), ["etcd", "fleet"])).to.equal("etcd 3.6.16 · fleet 1.0.0");
    expect(runningSummary(reported("3.6.16", (p) => (p["version.etcd.etcdctl.infra0"] = "3.4.23")), ["etcd", "fleet"])).to.equal("etcd 3.6.16|3.4.23 · fleet 1.0.0");
    expect(runningSummary({}, ["etcd"])).to.equal("etcd ?");
  });
});
