// Slow links, as across data centres: 300 ms ± 50 ms added to every packet between every pair of nodes,
// both ways. The delay is proved first (a TCP handshake between every pair takes two delayed legs), then
// the cluster must still elect one leader, serve writes, and fleet list every machine.
import { expect } from "chai";
import { eventually, skipIf, useCluster } from "galley/verifier";
import { ports, type FleetAttributes } from "../lib/expected.ts";
import * as fleet from "../lib/fleet.ts";
import { findLeader, views } from "../lib/jepsen.ts";

describe("fault: 300 ms ± 50 ms between every pair", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });
  const run = Date.now().toString(36);

  before(async function () {
    skipIf(this, cluster.nodes.length < 2, "a single node has no links to slow down");
    await cluster.faults.degrade({ from: "all", to: "all", delay: 300, jitter: 50 });
  });
  after(() => cluster.faults.heal());

  it("a TCP handshake between any two nodes takes two delayed legs (≥ 500 ms)", async () => {
    const { client } = ports(cluster);
    const handshakes: Record<string, number> = {};
    for (const a of cluster.nodes) {
      for (const b of cluster.nodes.filter((x) => x !== a)) {
        const out = await a.succeed(`s=$(date +%s%N); exec 3<>/dev/tcp/${b.ip}/${client}; echo $(( ($(date +%s%N) - s) / 1000000 ))`);
        handshakes[`${a.name}→${b.name}`] = Number(out.trim());
      }
    }
    console.log(`      handshakes (ms): ${Object.entries(handshakes).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    const slow = Object.fromEntries(Object.entries(handshakes).map(([k, v]) => [k, v >= 500]));
    expect(slow, `handshakes of at least 500 ms: ${JSON.stringify(handshakes)}`).to.deep.equal(Object.fromEntries(Object.keys(handshakes).map((k) => [k, true])));
  });

  it("every member follows one leader, and a write through each node is served and read back everywhere", async () => {
    const leader = await eventually(async () => {
      const seen = await views(cluster);
      expect(seen.map((v) => v.node), "members that answer").to.have.length(cluster.nodes.length);
      expect([...new Set(seen.map((v) => v.leader))], "leaders the members follow").to.have.length(1);
      return findLeader(cluster);
    }, { what: "every member to follow one leader", timeoutMs: 30_000, intervalMs: 1000 });
    console.log(`      leader: ${leader.name}`);
    for (const n of cluster.nodes) await n.succeed(`etcdctl --command-timeout=10s put galley/slow/${run}/${n.name} ${n.name}`);
    for (const n of cluster.nodes) {
      const keys = (await n.succeed(`etcdctl --command-timeout=10s get --prefix --keys-only galley/slow/${run}/`)).split("\n").filter(Boolean).sort();
      expect(keys, `keys read on ${n.name}`).to.deep.equal(cluster.nodes.map((x) => `galley/slow/${run}/${x.name}`).sort());
    }
  });

  it("fleet lists every machine", async () => {
    const ips = cluster.nodes.map((n) => n.ip).sort();
    await eventually(async () => {
      const machines = fleet.parseMachines(await cluster.nodes[0]!.succeed("fleetctl list-machines --no-legend --full", { user: "core", timeoutMs: 30_000 }));
      expect(machines.map((m) => m.ip).sort(), "machines fleet lists").to.deep.equal(ips);
    }, { what: `fleet to list ${ips.length} machines`, timeoutMs: 30_000, intervalMs: 1000 });
  });
});
