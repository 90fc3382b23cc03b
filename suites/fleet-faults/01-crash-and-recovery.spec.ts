// fleet exists to keep units running when machines die: kill the machine running test.service and
// watch fleet move it; then boot the machine again and watch it rejoin etcd and fleet. Each step first
// proves the fault took effect (the machine is really down), so a fault that did nothing fails here.
import { expect } from "chai";
import { attach, destructive, type Cluster, eventually, type Node, skipIf } from "galley/verifier";
import * as etcd from "../lib/etcd.ts";
import * as fleet from "../lib/fleet.ts";
import { agentTtlMs, ports } from "../lib/expected.ts";

describe("fault: crash of the machine running test.service", function () {
  destructive(this, "crashes the machine running test.service: fleet moves it elsewhere");
  let cluster: Cluster;
  let victim: Node;
  let witness: Node;

  async function machines(on: Node) {
    return fleet.parseMachines(await on.succeed("fleetctl list-machines --no-legend --full", { user: "core" }));
  }
  async function testUnit(on: Node) {
    return fleet.parseUnits(await on.succeed("fleetctl list-units --no-legend --full", { user: "core" })).filter((r) => r.unit === "test.service");
  }
  const clientUrl = (n: Node) => `http://${n.ip}:${ports(cluster).client}`;

  before(async function () {
    cluster = await attach();
    skipIf(this, cluster.nodes.length < 2, "a single-node cluster has no machine to move test.service to");
    const [row] = await testUnit(cluster.nodes[0]!);
    expect(row, "test.service is scheduled before the fault").to.exist;
    victim = cluster.nodeByIp(row!.ip);
    witness = cluster.other(victim);
  });
  after(() => cluster?.close());

  it("fleet reschedules test.service onto another machine within the agent TTL plus 45 s, and it says Hello World there", async () => {
    const ttl = agentTtlMs(cluster);
    await victim.crash();
    const crashedAt = Date.now();
    // The crash must have happened: the victim's etcd no longer answers.
    await witness.waitUntilFails(`etcdctl --endpoints=${clientUrl(victim)} --command-timeout=2s endpoint health`, { timeoutMs: 10_000 });
    const moved = await eventually(async () => {
      const [row] = await testUnit(witness);
      // A row whose machine fleet no longer knows (no address) is not on a surviving machine yet.
      expect(row && row.ip && row.ip !== victim.ip ? `${row.active}/${row.sub}` : `${row ? `${row.active}/${row.sub} on ${row.ip ? `the crashed ${victim.name}` : `machine ${row.machineId || "?"} (unknown to fleet)`}` : "not listed"}`,
        "test.service on a surviving machine").to.equal("active/running");
      return row!;
    }, { what: "test.service to run on a surviving machine", timeoutMs: ttl + 45_000, intervalMs: 1000 });
    const newOwner = cluster.nodeByIp(moved.ip);
    const journal = await newOwner.waitUntilSucceeds("journalctl -u test.service --no-pager -n 5 | grep 'Hello World'", { timeoutMs: 30_000 });
    expect(fleet.parseJournal(journal).map((l) => l.host)).to.include(newOwner.name);
    // The dead machine's registration expires with its TTL.
    await eventually(async () => {
      expect((await machines(witness)).map((m) => m.ip).sort(), "machines fleet lists").to.deep.equal(cluster.nodes.filter((n) => n !== victim).map((n) => n.ip).sort());
    }, { what: `fleet to list ${cluster.nodes.length - 1} machines`, timeoutMs: ttl + 30_000, intervalMs: 1000 });
    console.log(`      test.service moved from ${victim.name} to ${newOwner.name} ${((Date.now() - crashedAt) / 1000).toFixed(0)} s after the crash`);
  });

  it("the crashed machine boots again: its own etcd member is healthy in the same cluster, and fleet lists every machine", async () => {
    await victim.start();
    await victim.waitForUnit("etcd.service", { timeoutMs: 60_000 });
    // Health of the victim's own member (a crashed member still shows as "started" in member lists).
    await witness.waitUntilSucceeds(`etcdctl --endpoints=${clientUrl(victim)} --command-timeout=3s endpoint health`, { timeoutMs: 60_000 });
    const own = etcd.parseMemberListJson(await victim.succeed("etcdctl member list -w json"));
    const seen = etcd.parseMemberListJson(await witness.succeed("etcdctl member list -w json"));
    expect({ cluster: own.clusterId, member: own.memberId }, `${victim.name}'s etcd vs ${witness.name}'s view`)
      .to.deep.equal({ cluster: seen.clusterId, member: seen.members.find((m) => m.name === victim.name)?.id });
    await victim.waitForUnit("fleet.service", { timeoutMs: 60_000 });
    const victimId = (await victim.succeed("cat /etc/machine-id")).trim();
    await eventually(async () => {
      expect((await machines(witness)).map((m) => m.id), "machine ids fleet lists").to.include(victimId).and.to.have.length(cluster.nodes.length);
    }, { what: `fleet to list ${cluster.nodes.length} machines again`, timeoutMs: 60_000, intervalMs: 1000 });
  });
});
