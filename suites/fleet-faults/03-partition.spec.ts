// A member cut off from the others loses the cluster (it cannot serve a consistent read), misses a
// write made meanwhile, and catches up once it is back on the network.
import { expect } from "chai";
import { attach, type Cluster } from "galley/verifier";

describe("fault: network partition", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  after(async () => {
    await cluster.nodes.at(-1)!.rejoin().catch(() => {});
    await cluster.close();
  });

  it("an isolated member loses the cluster, and after rejoining reads the key written during the partition", async () => {
    const isolated = cluster.nodes.at(-1)!;
    const writer = cluster.nodes[0]!;
    await isolated.isolate();
    await isolated.waitUntilFails("etcdctl --command-timeout=2s get galley/partition/probe", { timeoutMs: 30_000 });
    const value = `written-${Date.now()}`;
    await writer.waitUntilSucceeds(`etcdctl --command-timeout=3s put galley/partition/key ${value}`, { timeoutMs: 30_000 });
    // Its own copy (a serializable, local read) does not have the key while it is cut off.
    expect((await isolated.succeed("etcdctl get --consistency=s --print-value-only galley/partition/key")).trim()).to.equal("");
    await isolated.rejoin();
    const seen = await isolated.waitUntilSucceeds(
      `test "$(etcdctl get --consistency=s --print-value-only galley/partition/key)" = ${value} && echo ${value}`,
      { timeoutMs: 60_000 },
    );
    expect(seen.trim()).to.equal(value);
  });
});
