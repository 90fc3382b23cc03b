// etcd needs a majority: with one of three members down the survivors still accept writes; with two
// down the last one must refuse them.
import { expect } from "chai";
import { attach, type Cluster } from "galley/verifier";

describe("fault: etcd quorum", function () {
  let cluster: Cluster;
  before(async function () {
    cluster = await attach();
    if (cluster.nodes.length !== 3) this.skip();
  });
  after(async () => {
    // Bring every member back, whatever happened above, and wait for a healthy cluster.
    for (const n of cluster.nodes.slice(1)) await n.start().catch(() => {});
    await cluster.nodes[0]!.waitUntilSucceeds("etcdctl endpoint health --cluster", { timeoutMs: 90_000 });
    await cluster.close();
  });

  it("with one of three members down (a clean shutdown), writes on both survivors succeed", async () => {
    const [a, b, c] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
    await c.stop();
    // The first write may wait for a new leader if the crashed member led.
    await a.waitUntilSucceeds("etcdctl --command-timeout=3s put galley/quorum/a one", { timeoutMs: 30_000 });
    await b.succeed("etcdctl --command-timeout=5s put galley/quorum/b two");
    expect((await b.succeed("etcdctl get --print-value-only galley/quorum/a")).trim()).to.equal("one");
  });

  it("with two of three members down (the second one crashed), a write on the last one fails", async () => {
    const [a, b] = cluster.nodes;
    await b!.crash();
    const out = await a!.fail("etcdctl --command-timeout=3s put galley/quorum/lonely three");
    expect(out).to.match(/context deadline exceeded|timed out|no leader|unavailable/i);
  });
});
