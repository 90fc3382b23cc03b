// Acknowledged writes survive (Jepsen's set test, kept small and exact): one writer per node appends
// numbered values through its own node while a minority partition, a paused leader and lossy slow
// links come and go. Every write etcd acknowledged must be there afterwards, once; nothing may appear
// that nobody wrote. The faults must be seen to bite: writes through the minority while it is cut off
// are not acknowledged.
import { expect } from "chai";
import { report, skipIf, useCluster } from "galley/verifier";
import type { FleetAttributes } from "../lib/expected.ts";
import { append, type Attempt, checkWrites, findLeader, readAll } from "../lib/jepsen.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("acknowledged writes survive faults", function () {
  const cluster = useCluster<FleetAttributes>({ leader: findLeader });
  const dir = `galley-ack-${Date.now().toString(36)}`;
  before(function () {
    skipIf(this, cluster.nodes.length < 3, "a minority partition needs at least 3 members");
  });
  after(() => cluster.faults.heal());

  it("every acknowledged write is read back exactly once after a partition, a paused leader and lossy slow links", async () => {
    const attempts: Attempt[] = [];
    let stop = false;
    const writers = cluster.nodes.map(async (n, w) => {
      for (let seq = 0; !stop; seq++) {
        const value = `w${w}-${seq}`;
        // A node that cannot run the command (paused) did not write: recorded as refused, tried again shortly.
        const a = await append(cluster, n, dir, value).catch((e: Error) => ({ value, node: n.name, outcome: "failed" as const, at: Date.now(), end: Date.now(), detail: e.message }));
        attempts.push(a);
        if (a.detail && !a.detail.startsWith("HTTP")) await sleep(250);
      }
    });
    // The nemesis: one fault at a time, each held for a few seconds, the writers never stopping.
    let minority: { name: string }[] = [];
    let cutAt = 0;
    let healedAt = 0;
    try {
      await sleep(2000);
      minority = (await cluster.faults.partition("minority"))[0]!;
      cutAt = Date.now();
      await sleep(10_000);
      healedAt = Date.now();
      await cluster.faults.heal("network");
      await sleep(2000);
      await cluster.faults.pause("leader");
      await sleep(4000);
      await cluster.faults.heal();
      await cluster.faults.degrade({ from: "all", to: "all", delay: 100, jitter: 50, loss: 0.05 });
      await sleep(5000);
      await cluster.faults.heal();
      await sleep(2000);
    } finally {
      stop = true;
      await Promise.all(writers);
    }

    const byOutcome = (o: Attempt["outcome"]) => attempts.filter((a) => a.outcome === o).length;
    console.log(`      ${attempts.length} writes: ${byOutcome("ok")} acknowledged, ${byOutcome("failed")} refused, ${byOutcome("unknown")} indeterminate`);
    // The partition bit: no write sent through the minority once the cut had settled (1.5 s) and answered
    // before the heal began was acknowledged.
    const cutOff = attempts.filter((a) => minority.some((m) => m.name === a.node) && a.at > cutAt + 1500 && a.end < healedAt);
    expect(cutOff.length, "writes tried through the minority while it was cut off").to.be.above(0);
    expect(cutOff.filter((a) => a.outcome === "ok").map((a) => a.value), "writes the cut-off minority acknowledged").to.deep.equal([]);

    const final = await readAll(cluster, cluster.nodes[0]!, dir);
    const check = checkWrites(attempts, final);
    report("writes.acknowledged", String(check.acknowledged));
    report("writes.read", String(final.length));
    expect(check.acknowledged, "acknowledged writes").to.be.above(10);
    expect({ lost: check.lost, duplicated: check.duplicated, unexpected: check.unexpected }, `${final.length} values read back`).to.deep.equal({ lost: [], duplicated: [], unexpected: [] });
  });
});
