// fleet exists to keep units running when machines die: kill the machine running test.service and
// watch fleet move it; then boot the machine again and watch it rejoin etcd and fleet.
import { expect } from "chai";
import { AssertionFailed, attach, fleet, retry, type Cluster, type Node } from "galley/verifier";
import { agentTtlMs } from "../fleet-cluster/expected.ts";

describe("fault: crash of the machine running test.service", function () {
  let cluster: Cluster;
  let victim: Node;
  let witness: Node;

  async function machines(on: Node) {
    return fleet.parseMachines(await on.succeed("fleetctl list-machines --no-legend --full", { user: "core" }));
  }
  async function testUnit(on: Node) {
    return fleet.parseUnits(await on.succeed("fleetctl list-units --no-legend --full", { user: "core" })).filter((r) => r.unit === "test.service");
  }

  before(async () => {
    cluster = await attach();
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
    let moved: fleet.UnitRow | undefined;
    await retry(async () => {
      const [row] = await testUnit(witness);
      if (!row || !row.ip || row.ip === victim.ip || row.active !== "active" || row.sub !== "running") {
        throw new AssertionFailed(`test.service is ${row ? `${row.active}/${row.sub} on ${row.ip}` : "not listed"}`);
      }
      moved = row;
    }, { what: "test.service to run on a surviving machine", timeoutMs: ttl + 45_000, intervalMs: 1000 });
    const newOwner = cluster.nodeByIp(moved!.ip);
    expect(newOwner.name).to.not.equal(victim.name);
    const journal = await newOwner.waitUntilSucceeds("journalctl -u test.service --no-pager -n 5 | grep 'Hello World'", { timeoutMs: 30_000 });
    expect(fleet.parseJournal(journal).map((l) => l.host)).to.include(newOwner.name);
    // The dead machine's registration expires with its TTL.
    await retry(async () => (await machines(witness)).length === cluster.nodes.length - 1,
      { what: `fleet to list ${cluster.nodes.length - 1} machines`, timeoutMs: ttl + 30_000, intervalMs: 1000 });
    const left = (await machines(witness)).map((m) => m.ip).sort();
    expect(left).to.deep.equal(cluster.nodes.filter((n) => n !== victim).map((n) => n.ip).sort());
    console.log(`      test.service moved from ${victim.name} to ${newOwner.name} ${((Date.now() - crashedAt) / 1000).toFixed(0)} s after the crash`);
  });

  it("the crashed machine boots again: its etcd member is started and healthy, and fleet lists every machine", async () => {
    await victim.start();
    await victim.waitForUnit("etcd.service", { timeoutMs: 60_000 });
    await victim.waitUntilSucceeds("etcdctl endpoint health", { timeoutMs: 60_000 });
    const members = await victim.succeed("etcdctl member list");
    expect(members.split("\n").filter((l) => /, started, /.test(l)), members).to.have.length(cluster.nodes.length);
    await victim.waitForUnit("fleet.service", { timeoutMs: 60_000 });
    await retry(async () => (await machines(witness)).length === cluster.nodes.length,
      { what: `fleet to list ${cluster.nodes.length} machines again`, timeoutMs: 60_000, intervalMs: 1000 });
    const ids = (await machines(witness)).map((m) => m.id);
    expect(ids).to.include((await victim.succeed("cat /etc/machine-id")).trim());
  });
});
