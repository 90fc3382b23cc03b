// A member cut off from the others loses the cluster (it cannot serve a consistent read), misses a
// write made meanwhile, and catches up once it is back on the network. The cut is proved first, and
// every value is read back and compared here, never echoed by the command that checks it.
import { expect } from "chai";
import { attach, destructive, type Cluster, eventually, skipIf } from "galley/verifier";
import { ports } from "../lib/expected.ts";

describe("fault: network partition", function () {
  destructive(this, "cuts a member off the network and writes while it is away");
  let cluster: Cluster;
  before(async function () {
    cluster = await attach();
    skipIf(this, cluster.nodes.length < 3, "a majority must remain after cutting one member off: needs at least 3 members");
  });
  after(async () => {
    if (cluster?.nodes.length >= 3) await cluster.nodes.at(-1)!.rejoin().catch(() => {});
    await cluster?.close();
  });

  it("an isolated member loses the cluster, and after rejoining reads the key written during the partition", async () => {
    const isolated = cluster.nodes.at(-1)!;
    const writer = cluster.nodes[0]!;
    // A fresh key each run, so a second verify of the same cluster sees nothing of the first.
    const key = `galley/partition/${Date.now().toString(36)}`;
    const value = `written-${Math.random().toString(36).slice(2)}`;
    await isolated.isolate();
    // The cut must be real: the writer cannot reach the isolated member, which loses its quorum.
    await writer.waitUntilFails(`etcdctl --endpoints=http://${isolated.ip}:${ports(cluster).client} --command-timeout=2s endpoint health`, { timeoutMs: 15_000 });
    await isolated.waitUntilFails("etcdctl --command-timeout=2s get galley/partition/probe", { timeoutMs: 30_000 });
    await writer.waitUntilSucceeds(`etcdctl --command-timeout=3s put ${key} ${value}`, { timeoutMs: 30_000 });
    // Its own copy (a serializable, local read) does not have the key while it is cut off.
    expect((await isolated.succeed(`etcdctl get --consistency=s --print-value-only ${key}`)).trim(), `${key} on the isolated ${isolated.name}`).to.equal("");
    await isolated.rejoin();
    await eventually(async () => {
      expect((await isolated.succeed(`etcdctl get --consistency=s --print-value-only ${key}`)).trim(), `${key} on ${isolated.name} after rejoining`).to.equal(value);
    }, { what: `${isolated.name} to catch up`, timeoutMs: 60_000 });
  });
});
