// The main job, end to end: `galley test static-debian-12` on real Docker, systemd, etcd and fleet.
import { expect } from "chai";
import { galley, leftovers } from "./helpers.ts";

describe("galley test static-debian-12", function () {
  after(() => galley(["destroy", "static-debian-12"])); // a failed run keeps its instance; the next tests need it gone
  it("boots, converges and verifies the 3-node fleet cluster, then leaves nothing behind", async () => {
    const r = await galley(["-v", "test", "static-debian-12"]);
    expect(r.code, `exit code; stderr:\n${r.stderr}`).to.equal(0);
    expect(r.stderr).to.match(/✓ converge again \(idempotence\) static-debian-12/);
    // -v: where create's and converge's seconds went, one line each, every step and the fixture's waits named.
    expect(r.stderr).to.match(/^ {2}create static-debian-12: box fleet-node \d+\.\d · booting 3 nodes \d+\.\d · waiting for systemd on 3 boxes \d+\.\d .*in all\)$/m);
    expect(r.stderr).to.match(
      /^ {2}converge static-debian-12: upload \d+\.\d · 00-machine-id .*· 30-docker \d+\.\d \(.*waited \d+\.\d for docker daemon.*\) · 40-etcd .*· cluster \d+\.\d \(waited \d+\.\d for etcd on this node to be healthy \(quorum\).*took \d+\.\d to schedule test\.service.*\) — waiting \d+\.\d s of \d+\.\d s/m,
    );
    expect(r.stderr).to.match(/11 checks passed on static-debian-12/);
    expect(r.stderr).to.match(/✓ destroy\s+static-debian-12/);
    expect(await leftovers("static-debian-12")).to.deep.equal([]);
    const list = await galley(["list", "static-debian-12", "--json"]);
    expect(JSON.parse(list.stdout)[0]).to.include({ instance: "static-debian-12", lastAction: "<not created>", lastError: "" });
  });
});

describe("galley test faults-debian-12", function () {
  const instance = "faults-debian-12";
  after(async () => {
    await galley(["destroy", instance]);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("passes the fault suites (crash and reschedule, recovery, quorum, partition)", async () => {
    const r = await galley(["test", instance, "--destroy", "never"]);
    expect(r.code, `exit code; stderr:\n${r.stderr}`).to.equal(0);
    expect(r.stderr).to.match(/16 checks passed on faults-debian-12/);
  });

  it("verifies the same cluster a second time: the fault suites leave nothing that breaks a rerun", async () => {
    const r = await galley(["verify", instance]);
    expect(r.code, `exit code; stderr:\n${r.stderr}`).to.equal(0);
    expect(r.stderr).to.match(/16 checks passed on faults-debian-12/);
  });

  it("fails every fault check when the faults are made harmless (GALLEY_HARMLESS_FAULTS=all), each proving its fault took effect", async () => {
    const r = await galley(["verify", instance], { env: { GALLEY_HARMLESS_FAULTS: "all" } });
    expect(r.code, r.stderr).to.equal(10);
    const failed = [...r.stderr.matchAll(/^ {2}✗ (.*)$/gm)].map((m) => m[1]);
    expect(failed).to.deep.equal([
      "fault: crash of the machine running test.service fleet reschedules test.service onto another machine within the agent TTL plus 45 s, and it says Hello World there",
      "fault: etcd quorum with as many members down as the cluster tolerates (clean shutdowns), writes on every survivor succeed",
      "fault: etcd quorum with one more member down (crashed), a write on a survivor fails",
      "fault: network partition an isolated member loses the cluster, and after rejoining reads the key written during the partition",
    ]);
    // Each failed because the fault had no effect: the member it hit still answered.
    expect(r.stderr.match(/waiting for `etcdctl --endpoints=http:\/\/[\d.]+:2379 --command-timeout=2s endpoint health` to fail on infra\d; last attempt: still succeeds/g)).to.have.length(4);
  });
});
