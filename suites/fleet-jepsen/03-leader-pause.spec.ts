// The leader frozen for longer than the election timeout (etcd's default: 1 s): the others must elect
// a new leader; once it thaws there must still be exactly one leader that every member follows. First
// the whole node (docker pause: every process frozen, its sockets open), then only its etcd.service
// (SIGSTOP: systemd still calls it active).
import { expect } from "chai";
import { eventually, type Node, skipIf, useCluster } from "galley/verifier";
import type { FleetAttributes } from "../lib/expected.ts";
import { findLeader, memberIds, views } from "../lib/jepsen.ts";

const FROZEN_MS = 5000;

describe("fault: the leader paused longer than the election timeout", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });
  before(function () {
    skipIf(this, cluster.nodes.length < 3, "electing a new leader without the old one needs at least 3 members");
  });
  after(() => cluster.faults.heal());

  /** Waits until the members other than `old` follow one leader that is not `old`; returns it. */
  async function newLeaderWithout(old: Node<FleetAttributes>): Promise<string> {
    const others = cluster.nodes.filter((n) => n !== old);
    const ids = await memberIds(cluster, others[0]!);
    return eventually(async () => {
      const seen = await views(cluster, others);
      const leaders = [...new Set(seen.map((v) => v.leader))];
      expect({ answered: seen.length, leaders: leaders.map((l) => Object.entries(ids).find(([, id]) => id === l)?.[0] ?? l) }, `whom ${others.map((n) => n.name).join(" and ")} follow while ${old.name} is frozen`)
        .to.deep.equal({ answered: others.length, leaders: leaders.length === 1 && leaders[0] !== ids[old.name] && leaders[0] !== "0" ? [Object.entries(ids).find(([, id]) => id === leaders[0])?.[0]] : ["a new leader"] });
      return leaders[0]!;
    }, { what: `a new leader while ${old.name} is frozen`, timeoutMs: 20_000, intervalMs: 500 });
  }

  /** Exactly one leader, followed by every member, all in one term. */
  async function exactlyOneLeader(): Promise<string> {
    return eventually(async () => {
      const seen = await views(cluster);
      expect(seen.map((v) => v.node).sort(), "members that answer").to.deep.equal(cluster.nodes.map((n) => n.name).sort());
      const leaders = [...new Set(seen.map((v) => v.leader))];
      expect(leaders, "leaders the members follow").to.have.length(1);
      expect(seen.filter((v) => v.id === leaders[0]).map((v) => v.node), "members that are the leader they follow").to.have.length(1);
      expect([...new Set(seen.map((v) => v.term))], "terms").to.have.length(1);
      return seen.find((v) => v.id === leaders[0])!.node;
    }, { what: "exactly one leader", timeoutMs: 30_000, intervalMs: 1000 });
  }

  it("the whole leader node paused: a new leader among the others; after resume, exactly one leader", async () => {
    await exactlyOneLeader();
    const [old] = await cluster.faults.pause("leader");
    const frozenAt = Date.now();
    try {
      const elected = await newLeaderWithout(old!);
      console.log(`      ${old!.name} paused; new leader ${elected} after ${Date.now() - frozenAt} ms`);
      await new Promise((r) => setTimeout(r, Math.max(0, FROZEN_MS - (Date.now() - frozenAt))));
    } finally {
      await cluster.faults.resume(old!);
    }
    const now = await exactlyOneLeader();
    expect(now, "the leader after resume").to.not.equal(undefined);
  });

  it("only the leader's etcd.service frozen (SIGSTOP): a new leader among the others; after resume-unit, exactly one leader", async () => {
    await exactlyOneLeader();
    const [old] = await cluster.faults.pauseUnit("leader", "etcd.service");
    const frozenAt = Date.now();
    try {
      const state = await old!.succeed("ps -o stat= -p $(systemctl show -p MainPID --value etcd.service)");
      expect(state.trim(), `etcd's process state on ${old!.name}`).to.match(/^T/);
      const elected = await newLeaderWithout(old!);
      console.log(`      etcd.service on ${old!.name} frozen; new leader ${elected} after ${Date.now() - frozenAt} ms`);
      await new Promise((r) => setTimeout(r, Math.max(0, FROZEN_MS - (Date.now() - frozenAt))));
    } finally {
      await cluster.faults.resumeUnit(old!, "etcd.service");
    }
    await exactlyOneLeader();
  });
});
