// fleet keeps units running when their machine is lost to a partition: cut the machine running
// test.service off from the others; fleet on the majority side must reschedule the unit there (the cut
// machine cannot renew its registration), and Hello World must come from the new machine. After heal
// the unit must run on exactly one machine, and fleet list every machine again.
import { expect } from "chai";
import { eventually, type Node, skipIf, useCluster } from "galley/verifier";
import { agentTtlMs, ports, type FleetAttributes } from "../lib/expected.ts";
import * as fleet from "../lib/fleet.ts";
import { findLeader } from "../lib/jepsen.ts";

describe("fault: the machine running test.service partitioned away", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });
  let owner: Node<FleetAttributes>;
  let others: Node<FleetAttributes>[];
  const units = async (on: Node<FleetAttributes>) =>
    fleet.parseUnits(await on.succeed("fleetctl list-units --no-legend --full", { user: "core", timeoutMs: 30_000 })).filter((r) => r.unit === "test.service");

  before(async function () {
    skipIf(this, cluster.nodes.length < 3, "a majority must remain on the other side: needs at least 3 machines");
    // Earlier faults may have moved it (or fleet is still settling after them): wait until it runs.
    const row = await eventually(async () => {
      const [r] = await units(cluster.nodes[0]!);
      // On a registered machine: a machine whose registration expired is listed by its id alone.
      const where = !r || cluster.nodes.some((n) => n.ip === r.ip) ? "" : ` on machine ${r.machineId || "?"} (no address: not registered)`;
      expect(r ? `${r.active}/${r.sub}${where}` : "not listed", "test.service before the fault").to.equal("active/running");
      return r!;
    }, { what: "test.service to run before the fault", timeoutMs: agentTtlMs(cluster) + 45_000, intervalMs: 1000 });
    owner = cluster.nodeByIp(row.ip);
    others = cluster.nodes.filter((n) => n !== owner);
  });
  after(() => cluster.faults.heal());

  it("fleet on the majority side reschedules test.service there within the agent TTL plus 45 s, and it says Hello World there", async () => {
    await cluster.faults.partition([[owner], others]);
    const cutAt = Date.now();
    await others[0]!.waitUntilFails(`etcdctl --endpoints=http://${owner.ip}:${ports(cluster).client} --command-timeout=2s endpoint health`, { timeoutMs: 15_000 });
    const moved = await eventually(async () => {
      const [row] = await units(others[0]!);
      // Only a majority machine counts: once the cut machine's registration expires, fleetctl still shows
      // its last unit state, under the machine id alone (no address).
      const where = !row ? "not listed" : others.some((n) => n.ip === row.ip) ? "" : row.ip === owner.ip ? ` on the cut-off ${owner.name}` : ` on machine ${row.machineId || "?"} (no address: not registered)`;
      expect(row ? `${row.active}/${row.sub}${where}` : where, "test.service on the majority side").to.equal("active/running");
      return row!;
    }, { what: "test.service to run on the majority side", timeoutMs: agentTtlMs(cluster) + 45_000, intervalMs: 1000 });
    const newOwner = cluster.nodeByIp(moved.ip);
    const journal = await newOwner.waitUntilSucceeds("journalctl -u test.service --no-pager -n 5 | grep 'Hello World'", { timeoutMs: 30_000 });
    expect(fleet.parseJournal(journal).map((l) => l.host)).to.include(newOwner.name);
    console.log(`      test.service moved from ${owner.name} to ${newOwner.name} ${((Date.now() - cutAt) / 1000).toFixed(0)} s after the cut`);
  });

  it("after heal, test.service runs on exactly one machine and fleet lists every machine", async () => {
    await cluster.faults.heal();
    await eventually(async () => {
      const active = await Promise.all(cluster.nodes.map(async (n) => [n.name, (await n.execute("systemctl is-active test.service")).stdout.trim()] as const));
      expect(active.filter(([, s]) => s === "active").map(([n]) => n), "machines where test.service is active").to.have.length(1);
      const machines = fleet.parseMachines(await cluster.nodes[0]!.succeed("fleetctl list-machines --no-legend --full", { user: "core", timeoutMs: 30_000 }));
      expect(machines.map((m) => m.ip).sort(), "machines fleet lists").to.deep.equal(cluster.nodes.map((n) => n.ip).sort());
    }, { what: "test.service on exactly one machine and every machine listed", timeoutMs: agentTtlMs(cluster) + 60_000, intervalMs: 2000 });
  });
});
