// The article's proof that fleet schedules work: test.service runs on exactly one machine, fleet says
// so, and its Hello World lines are being written NOW (a unit that printed once and then stopped is
// not a working service), read as the article does with fleetctl journal from another node.
import { expect } from "chai";
import { eventually, skipIf, useCluster } from "galley/verifier";
import * as fleet from "../lib/fleet.ts";
import { requireV2, type FleetAttributes } from "../lib/expected.ts";

/** test.service prints every second: its newest line may be this old. */
const FRESH_S = 5;

describe("test.service", function () {
  const cluster = useCluster<FleetAttributes>();
  beforeEach(() => requireV2(cluster));

  async function unitRows() {
    const node = cluster.nodes[0]!;
    const version = fleet.parseVersion(await node.succeed("fleetctl --version"));
    const rows = fleet.parseUnits(await node.succeed(`fleetctl list-units --no-legend ${fleet.fullFlag(version)}`, { user: "core" }));
    return rows.filter((r) => r.unit === "test.service");
  }

  it("is scheduled on exactly one machine and fleet shows it active/running", async () => {
    const rows = await eventually(async () => {
      const r = await unitRows();
      expect(r.map((x) => `${x.active}/${x.sub}`), "test.service rows in fleetctl list-units").to.deep.equal(["active/running"]);
      return r;
    }, { what: "test.service active/running in fleetctl list-units", timeoutMs: 60_000 });
    const owner = cluster.nodeByIp(rows[0]!.ip);
    // Where fleet moved the unit away (its old machine's fleetd died and came back), the article's unit
    // ends "failed": `docker stop` waits 10 s for a shell that ignores SIGTERM, then kills it (exit 137).
    // Not running is what counts there; "deactivating" is a copy still running, so wait it out.
    const notRunning = new Set(["inactive", "failed"]);
    await eventually(async () => {
      const active = await cluster.each(async (n) => (await n.execute("systemctl is-active test.service")).stdout.trim());
      const states = Object.fromEntries(cluster.nodes.map((n, i) => [n.name, active[i]!]));
      const expected = Object.fromEntries(cluster.nodes.map((n) => [n.name, n === owner ? "active" : notRunning.has(states[n.name]!) ? states[n.name]! : "inactive"]));
      expect(states, `test.service state per node (running only on ${owner.name}, where fleet put it)`).to.deep.equal(expected);
    }, { what: `test.service running on ${owner.name} only`, timeoutMs: 30_000 });
  });

  it(`fleetctl journal, run as core through ssh-agent on another node, shows Hello World from the unit's node, the newest under ${FRESH_S} s old`, async function () {
    skipIf(this, cluster.nodes.length < 2, "a single-node cluster has no other node to read the journal from over SSH");
    const rows = await unitRows();
    expect(rows, "test.service rows").to.have.length(1);
    const owner = cluster.nodeByIp(rows[0]!.ip);
    const other = cluster.other(owner);
    await eventually(async () => {
      const out = await other.succeed(fleet.withAgent("journal --output short-unix --lines 10 test.service"), { user: "core" });
      const now = Number((await other.succeed("date +%s.%N")).trim());
      const hello = fleet.parseJournalUnix(out).filter((l) => l.message === "Hello World");
      expect([...new Set(hello.map((l) => l.host))], `hosts that logged Hello World; fleetctl journal printed:\n${out.trim().split("\n").slice(-4).join("\n")}`).to.deep.equal([owner.name]);
      const newest = Math.max(...hello.map((l) => l.at));
      const age = now - newest;
      expect(age, `age in seconds of the newest Hello World from ${owner.name} (test.service must keep printing)`).to.be.lessThan(FRESH_S);
    }, { what: `a fresh Hello World in fleetctl journal on ${other.name}`, timeoutMs: 20_000, intervalMs: 1000 });
  });
});
