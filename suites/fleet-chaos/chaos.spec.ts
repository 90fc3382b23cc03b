// The fleet cluster under `galley chaos`: safety invariants polled for the whole run (never two leaders
// in one term; a member's data never goes back), the random schedule of faults, and after the heal the
// cluster must be whole again: one leader every member follows, every machine in fleet, test.service on
// exactly one machine.
import { expect } from "chai";
import { chaos, eventually, invariant, useCluster } from "galley/verifier";
import type { FleetAttributes } from "../lib/expected.ts";
import * as fleet from "../lib/fleet.ts";
import { findLeader, views } from "../lib/jepsen.ts";

describe("fleet cluster under chaos", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });

  const leaderOfTerm = new Map<number, string>();
  invariant("at most one leader in any term", async () => {
    for (const v of (await views(cluster)).filter((m) => m.id === m.leader)) {
      const known = leaderOfTerm.get(v.term);
      if (known && known !== v.node) throw new Error(`term ${v.term} had two leaders: ${known} and ${v.node}`);
      leaderOfTerm.set(v.term, v.node);
    }
  }, { everyMs: 2000 });

  const highest = new Map<string, number>();
  invariant("a member's revision never goes back", async (node) => {
    const [v] = await views(cluster, [node!]);
    if (!v) return; // paused, down or without a leader: nothing to compare now
    const before = highest.get(v.node) ?? 0;
    if (v.revision < before) throw new Error(`revision ${v.revision} after ${before}`);
    highest.set(v.node, v.revision);
  }, { everyMs: 3000, each: () => cluster.nodes });

  chaos(cluster);

  it("after healing, every member answers and follows one leader", async () => {
    await eventually(async () => {
      const seen = await views(cluster);
      expect(seen.map((v) => v.node).sort(), "members that answer").to.deep.equal(cluster.nodes.map((n) => n.name).sort());
      expect([...new Set(seen.map((v) => v.leader))], "leaders they follow").to.have.length(1);
    }, { what: "one leader every member follows", timeoutMs: 90_000, intervalMs: 1000 });
  });

  it("after healing, fleet lists every machine and test.service runs on exactly one", async () => {
    await eventually(async () => {
      const machines = fleet.parseMachines(await cluster.nodes[0]!.succeed("fleetctl list-machines --no-legend --full", { user: "core", timeoutMs: 30_000 }));
      expect(machines.map((m) => m.ip).sort(), "machines fleet lists").to.deep.equal(cluster.nodes.map((n) => n.ip).sort());
      const active = await Promise.all(cluster.nodes.map(async (n) => (await n.execute("systemctl is-active test.service")).stdout.trim()));
      expect(active.filter((s) => s === "active"), "machines running test.service").to.have.length(1);
    }, { what: "every machine in fleet and test.service on one", timeoutMs: 120_000, intervalMs: 2000 });
  });
});
