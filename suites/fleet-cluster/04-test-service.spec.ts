import { expect } from "chai";
import { AssertionFailed, attach, fleet, retry, type Cluster } from "galley/verifier";
import { requireV2 } from "./expected.ts";

describe("test.service", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  beforeEach(() => requireV2(cluster));
  after(() => cluster?.close());

  async function unitRows() {
    const node = cluster.nodes[0]!;
    const version = fleet.parseVersion(await node.succeed("fleetctl --version"));
    const rows = fleet.parseUnits(await node.succeed(`fleetctl list-units --no-legend ${fleet.fullFlag(version)}`, { user: "core" }));
    return rows.filter((r) => r.unit === "test.service");
  }

  it("is scheduled on exactly one machine and fleet shows it active/running", async () => {
    let rows: fleet.UnitRow[] = [];
    await retry(async () => {
      rows = await unitRows();
      return rows.length === 1 && rows[0]!.active === "active" && rows[0]!.sub === "running";
    }, { what: "test.service active/running in fleetctl list-units", timeoutMs: 60_000 }).catch(() => {});
    expect(rows, "test.service rows in fleetctl list-units").to.have.length(1);
    expect([rows[0]!.active, rows[0]!.sub]).to.deep.equal(["active", "running"]);
    const owner = cluster.nodeByIp(rows[0]!.ip);
    const active = await cluster.each(async (n) => (await n.execute("systemctl is-active test.service")).stdout.trim());
    expect(
      Object.fromEntries(cluster.nodes.map((n, i) => [n.name, active[i]])),
      "test.service state per node",
    ).to.deep.equal(Object.fromEntries(cluster.nodes.map((n) => [n.name, n === owner ? "active" : "inactive"])));
  });

  it("fleetctl journal, run as core through ssh-agent on another node, shows Hello World from the unit's node", async () => {
    const rows = await unitRows();
    expect(rows, "test.service rows").to.have.length(1);
    const owner = cluster.nodeByIp(rows[0]!.ip);
    const other = cluster.other(owner);
    let lines: fleet.JournalLine[] = [];
    await retry(async () => {
      const out = await other.succeed(fleet.withAgent("journal test.service"), { user: "core" });
      lines = fleet.parseJournal(out).filter((l) => l.message === "Hello World");
      if (lines.length < 2) throw new AssertionFailed(`${lines.length} Hello World lines; fleetctl journal printed:\n${out.trim().split("\n").slice(-6).join("\n")}`);
    }, { what: `Hello World in fleetctl journal on ${other.name}`, timeoutMs: 30_000 });
    expect([...new Set(lines.map((l) => l.host))], "hosts that logged Hello World").to.deep.equal([owner.name]);
  });
});
