import { expect } from "chai";
import { attach, fleet, retry, type Cluster } from "galley/verifier";
import { expectedMetadata, requireV2 } from "./expected.ts";

describe("fleet machines", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  beforeEach(() => requireV2(cluster));
  after(() => cluster?.close());

  it("fleetctl list-machines shows one machine per node, with the node's IP, machine id and metadata", async () => {
    const node = cluster.nodes[0]!;
    const version = fleet.parseVersion(await node.succeed("fleetctl --version"));
    let machines: fleet.Machine[] = [];
    // Machines register within fleet's agent TTL; wait for the count, then compare everything.
    await retry(async () => {
      machines = fleet.parseMachines(await node.succeed(`fleetctl list-machines --no-legend ${fleet.fullFlag(version)}`, { user: "core" }));
      return machines.length >= cluster.nodes.length;
    }, { what: `fleet to list ${cluster.nodes.length} machines`, timeoutMs: 45_000 }).catch(() => {});

    const ids = machines.map((m) => m.id);
    expect(new Set(ids).size, `distinct machine ids in ${JSON.stringify(machines)}`).to.equal(cluster.nodes.length);
    expect(machines.map((m) => m.ip).sort(), "machine IPs").to.deep.equal(cluster.nodes.map((n) => n.ip).sort());
    await cluster.each(async (n) => {
      const m = machines.find((x) => x.ip === n.ip)!;
      const machineId = (await n.succeed("cat /etc/machine-id")).trim();
      expect(m.id, `fleet machine id of ${n.name}`).to.equal(machineId);
      expect(m.metadata, `metadata of ${n.name}`).to.deep.equal(expectedMetadata(n));
    });
  });
});
