// etcd needs a majority: with as many members down as a cluster of N tolerates (⌊(N-1)/2⌋) the
// survivors still accept writes; with one more down they must refuse them. Each stopped member is
// first proved down, so a fault that did nothing fails here instead of passing.
import { expect } from "chai";
import { attach, destructive, type Cluster, type Node, skipIf } from "galley/verifier";
import { ports } from "../lib/expected.ts";

describe("fault: etcd quorum", function () {
  destructive(this, "stops and crashes etcd members");
  let cluster: Cluster;
  let survivors: Node[];
  let down: Node[];
  const run = `${Date.now().toString(36)}`;
  const clientUrl = (n: Node) => `http://${n.ip}:${ports(cluster).client}`;
  const provedDown = (from: Node, n: Node) =>
    from.waitUntilFails(`etcdctl --endpoints=${clientUrl(n)} --command-timeout=2s endpoint health`, { timeoutMs: 15_000 });

  before(async function () {
    cluster = await attach();
    skipIf(this, cluster.nodes.length < 3, "losing and keeping a quorum needs at least 3 members");
    const tolerated = Math.floor((cluster.nodes.length - 1) / 2);
    down = cluster.nodes.slice(cluster.nodes.length - tolerated);
    survivors = cluster.nodes.slice(0, cluster.nodes.length - tolerated);
  });
  after(async () => {
    if (!down) return cluster?.close();
    // Bring every member back, whatever happened above, and wait for a healthy cluster.
    for (const n of cluster.nodes.slice(1)) await n.start().catch(() => {});
    await cluster.nodes[0]!.waitUntilSucceeds("etcdctl endpoint health --cluster", { timeoutMs: 90_000 });
    await cluster.close();
  });

  it("with as many members down as the cluster tolerates (clean shutdowns), writes on every survivor succeed", async () => {
    for (const n of down) await n.stop();
    for (const n of down) await provedDown(survivors[0]!, n);
    // The first write may wait for a new leader if a stopped member led.
    await survivors[0]!.waitUntilSucceeds(`etcdctl --command-timeout=3s put galley/quorum/${run}/${survivors[0]!.name} ok`, { timeoutMs: 30_000 });
    for (const n of survivors.slice(1)) await n.succeed(`etcdctl --command-timeout=5s put galley/quorum/${run}/${n.name} ok`);
    const keys = (await survivors.at(-1)!.succeed(`etcdctl get --prefix --keys-only galley/quorum/${run}/`)).split("\n").filter(Boolean).sort();
    expect(keys, "keys written on the survivors").to.deep.equal(survivors.map((n) => `galley/quorum/${run}/${n.name}`).sort());
  });

  it("with one more member down (crashed), a write on a survivor fails", async () => {
    const extra = survivors.at(-1)!;
    await extra.crash();
    const last = survivors[0]!;
    await provedDown(last, extra);
    const out = await last.fail(`etcdctl --command-timeout=3s put galley/quorum/${run}/lonely no`);
    expect(out).to.match(/context deadline exceeded|timed out|no leader|unavailable/i);
  });
});
