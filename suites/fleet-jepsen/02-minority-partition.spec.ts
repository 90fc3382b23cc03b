// A minority partition: the majority side must keep accepting writes, the minority side must refuse them
// (no leader it can reach), and after heal the minority catches up — the same revision and the same
// keys everywhere. Then a one-way cut: a member that hears its peers but cannot answer them. Each cut is
// proved first, so a cut that did nothing fails here.
import { expect } from "chai";
import { eventually, type Node, skipIf, useCluster } from "galley/verifier";
import { ports, type FleetAttributes } from "../lib/expected.ts";
import { findLeader, views } from "../lib/jepsen.ts";

describe("fault: minority partition", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });
  const prefix = `galley/partition/${Date.now().toString(36)}`;
  let minority: Node<FleetAttributes>[];
  let majority: Node<FleetAttributes>[];
  const health = (from: Node<FleetAttributes>, to: Node<FleetAttributes>) =>
    `etcdctl --endpoints=http://${to.ip}:${ports(cluster).client} --command-timeout=2s endpoint health`;

  before(function () {
    skipIf(this, cluster.nodes.length < 3, "a minority and a majority need at least 3 members");
  });
  after(() => cluster.faults.heal());

  it("the majority side accepts writes through each of its members; the minority side refuses them", async () => {
    const groups = await cluster.faults.partition("minority");
    minority = groups[0]!;
    majority = groups[1]!;
    console.log(`      minority: ${minority.map((n) => n.name).join(",")} | majority: ${majority.map((n) => n.name).join(",")}`);
    await majority[0]!.waitUntilFails(health(majority[0]!, minority[0]!), { timeoutMs: 15_000 });
    await majority[0]!.waitUntilSucceeds(`etcdctl --command-timeout=3s put ${prefix}/first ok`, { timeoutMs: 30_000 });
    for (const n of majority) await n.succeed(`etcdctl --command-timeout=5s put ${prefix}/${n.name} ok`);
    for (const n of minority) {
      const out = await n.fail(`etcdctl --command-timeout=3s put ${prefix}/${n.name} no`);
      expect(out, `${n.name}'s refusal`).to.match(/deadline exceeded|timed out|no leader|unavailable/i);
    }
  });

  it("after heal the minority catches up: every member at the same revision, with the same keys", async () => {
    await cluster.faults.heal();
    const expected = [`${prefix}/first`, ...majority.map((n) => `${prefix}/${n.name}`)].sort();
    await eventually(async () => {
      const seen = await views(cluster);
      expect(seen.map((v) => v.node).sort(), "members that answer").to.deep.equal(cluster.nodes.map((n) => n.name).sort());
      expect(Object.fromEntries(seen.map((v) => [v.node, v.revision])), "revision on each member").to.deep.equal(Object.fromEntries(seen.map((v) => [v.node, seen[0]!.revision])));
      // Each member's own copy (a serializable, local read): the same keys everywhere.
      for (const n of cluster.nodes) {
        const keys = (await n.succeed(`etcdctl get --consistency=s --prefix --keys-only ${prefix}/`)).split("\n").filter(Boolean).sort();
        expect(keys, `keys in ${n.name}'s own copy`).to.deep.equal(expected);
      }
    }, { what: "the minority to catch up", timeoutMs: 60_000, intervalMs: 1000 });
  });

  it("one way: a member that hears the others but cannot answer them; the rest still write, it cannot", async () => {
    const [mute] = await cluster.faults.pick("one");
    const others = cluster.nodes.filter((n) => n !== mute);
    await cluster.faults.drop({ from: mute!, to: others });
    // Its peers' requests arrive (half-open connections wait on it) but nothing comes back.
    const { client } = ports(cluster);
    const attempt = others[0]!.execute(`timeout 6 bash -c 'exec 3<>/dev/tcp/${mute!.ip}/${client}'`);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await mute!.succeed("ss -Htn state syn-recv"), `half-open connections on ${mute!.name}`).to.include(`${others[0]!.ip}:`);
    expect((await attempt).exitCode, `${others[0]!.name} connecting to ${mute!.name}`).to.not.equal(0);
    await others[0]!.waitUntilSucceeds(`etcdctl --command-timeout=3s put ${prefix}/one-way ok`, { timeoutMs: 30_000 });
    await mute!.fail(`etcdctl --command-timeout=3s put ${prefix}/mute no`);
    await cluster.faults.heal();
    await mute!.waitUntilSucceeds(`etcdctl --command-timeout=3s get ${prefix}/one-way --print-value-only | grep -x ok`, { timeoutMs: 60_000 });
  });
});
