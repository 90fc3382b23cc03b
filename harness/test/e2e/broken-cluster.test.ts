// A test harness earns trust by failing: the cookbook's real defects must make `galley verify` fail,
// naming the check that caught them.
import { expect } from "chai";
import { galley, leftovers } from "./helpers.ts";

describe("galley verify on a broken cluster", function () {
  const config = ["--config", "fixtures/broken/galley.yml"];
  let verify: Awaited<ReturnType<typeof galley>>;

  before(async () => {
    verify = await galley([...config, "verify", "peer-port-clients|cloned-machine-id", "-c", "2"]);
  });
  after(async () => {
    const r = await galley([...config, "destroy", "all", "-c", "2"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers("peer-port-clients-debian-12")).to.deep.equal([]);
    expect(await leftovers("cloned-machine-id-debian-12")).to.deep.equal([]);
    expect(await leftovers("non-idempotent-debian-12")).to.deep.equal([]);
  });

  it("exits 10 (an instance failed)", () => {
    expect(verify.code, verify.stderr).to.equal(10);
  });

  it("catches client URLs advertised on the peer port, naming the check and the URLs", () => {
    const report = verify.stderr.slice(verify.stderr.indexOf("verify failed on peer-port-clients-debian-12"));
    expect(report).to.match(/✗ etcd members every advertised client URL answers the client API/);
    expect(report).to.match(/advertises http:\/\/[\d.]+:2380, whose v2 keys API answers HTTP 404/);
    expect(report).to.match(/✗ etcd members every node lists exactly the instance's nodes/);
  });

  it("catches nodes that share one machine id, naming the check", () => {
    const report = verify.stderr.slice(verify.stderr.indexOf("verify failed on cloned-machine-id-debian-12"));
    expect(report).to.match(/✗ fleet machines fleetctl list-machines shows one machine per node/);
    // Every node has the same /etc/machine-id, so fleet lists one machine for three nodes.
    expect(report).to.match(/fleetctl list-machines: expected \[ 'infra\d id=0123456789abcdef0123456789abcdef ip=[\d.]+ [^']*' \] to have a length of 3 but got 1/);
  });
});

describe("galley idempotence on a provisioning that is not idempotent", function () {
  const config = ["--config", "fixtures/broken/galley.yml"];
  after(async () => {
    await galley([...config, "destroy", "non-idempotent-debian-12"]);
  });

  it("fails, naming the node, the step and the change", async () => {
    const r = await galley([...config, "idempotence", "non-idempotent-debian-12"]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/✓ converge non-idempotent-debian-12/);
    expect(r.stderr).to.match(/not idempotent: the second converge changed infra0:\n  infra0: 99-non-idempotent-demo: stamped \/etc\/galley-last-converge\n\(log/);
  });
});
