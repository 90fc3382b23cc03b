// fleet sees every node as a machine, with the facts the node itself holds: its machine id, its
// address, and the metadata its fleetd was configured with (read from the node, never recomputed here).
// And every fleetd is alive now: running, not frozen, and heartbeating (a dead fleetd stays listed until
// its registration expires, so a listing alone proves nothing about the present).
import { expect } from "chai";
import { eventually, type Node, useCluster } from "galley/verifier";
import * as fleet from "../lib/fleet.ts";
import { ports, requireV2, type FleetAttributes } from "../lib/expected.ts";

interface NodeFacts {
  node: string;
  machineId: string;
  ip: string;
  env: Record<string, string>;
  metadata: Record<string, string>;
}

async function factsOf(n: Node): Promise<NodeFacts> {
  const [environment, machineId] = await Promise.all([n.succeed("systemctl show fleet.service -p Environment --value"), n.succeed("cat /etc/machine-id")]);
  const env = fleet.parseEnvironment(environment);
  return { node: n.name, machineId: machineId.trim(), ip: n.ip, env, metadata: fleet.parseMetadata(env.FLEET_METADATA) };
}

const durationSeconds = (d: string | undefined, fallback: number) => {
  const m = /^(\d+)(ms|s|m)?$/.exec(d ?? "");
  return m ? Number(m[1]) * (m[2] === "m" ? 60 : m[2] === "ms" ? 0.001 : 1) : fallback;
};

describe("fleet machines", function () {
  const cluster = useCluster<FleetAttributes>();
  beforeEach(() => requireV2(cluster));

  it("fleetctl list-machines shows one machine per node: the node's machine id, its IP and the metadata its fleetd is configured with", async () => {
    const facts = await cluster.each(factsOf);
    const row = (node: string, id: string, ip: string, meta: Record<string, string>) =>
      `${node} id=${id} ip=${ip} ${Object.entries(meta).sort().map(([k, v]) => `${k}=${v}`).join(",") || "(no metadata)"}`;
    const expected = facts.map((f) => row(f.node, f.machineId, f.ip, f.metadata)).sort();
    const nodeOfId = new Map(facts.map((f) => [f.machineId, f.node]));
    const node = cluster.nodes[0]!;
    const version = fleet.parseVersion(await node.succeed("fleetctl --version"));
    const list = async () => fleet.parseMachines(await node.succeed(`fleetctl list-machines --no-legend ${fleet.fullFlag(version)}`, { user: "core" }));
    const rows = (machines: fleet.Machine[]) => machines.map((m) => row(nodeOfId.get(m.id) ?? "(no node has this machine id)", m.id, m.ip, m.metadata)).sort();
    // Machines register within fleet's agent TTL: wait until every node's machine id is listed once,
    // then compare everything (a wrong address or metadata will not fix itself by waiting).
    const machines = await eventually(async () => {
      const ms = await list();
      expect(rows(ms), "fleetctl list-machines").to.have.length(expected.length);
      expect(ms.map((m) => m.id).sort(), "machine ids fleet lists (vs each node's /etc/machine-id)").to.deep.equal(facts.map((f) => f.machineId).sort());
      return ms;
    }, { what: `fleet to list the ${cluster.nodes.length} nodes' machines`, timeoutMs: 45_000 });
    expect(rows(machines), "fleetctl list-machines").to.deep.equal(expected);
    // What the user declared must be what the nodes were configured with (a user's value, not a formula).
    const region = ((cluster.attributes.fleet as { metadata?: { region?: string } } | undefined)?.metadata?.region);
    if (region) {
      expect(Object.fromEntries(facts.map((f) => [f.node, f.metadata.region])), "region configured on each node").to.deep.equal(Object.fromEntries(facts.map((f) => [f.node, region])));
    }
  });

  it("fleetd runs on every node, is not frozen, and keeps its registration fresh (heartbeats)", async () => {
    const { client } = ports(cluster);
    const problems = (await cluster.each(async (n) => {
      const [f, unit] = await Promise.all([factsOf(n), n.unitInfo("fleet.service", ["ActiveState", "SubState", "MainPID"])]);
      if (`${unit.ActiveState}/${unit.SubState}` !== "active/running") return [`${n.name}: fleet.service is ${unit.ActiveState}/${unit.SubState}`];
      // A SIGSTOPped fleetd is "active/running" to systemd: ask the kernel (state T = stopped).
      const state = (await n.succeed(`ps -o stat= -p ${unit.MainPID}`)).trim();
      if (state.startsWith("T")) return [`${n.name}: fleetd (pid ${unit.MainPID}) is stopped (process state ${state})`];
      // fleetd refreshes its registration every agent TTL / 2: a live one always has at least half its TTL left.
      const ttl = durationSeconds(f.env.FLEET_AGENT_TTL, 30);
      const key = `http://127.0.0.1:${client}/v2/keys/_coreos.com/fleet/machines/${f.machineId}/object`;
      const r = await n.execute(`curl -fsS ${key}`);
      const left = Number(/"ttl":(\d+)/.exec(r.stdout)?.[1] ?? NaN);
      if (r.exitCode !== 0 || Number.isNaN(left)) return [`${n.name}: no fleet registration for machine ${f.machineId} (${(r.stdout + r.stderr).trim().slice(0, 200)})`];
      if (left < ttl / 2 - 2) return [`${n.name}: fleetd's registration was last refreshed ${Math.round(ttl - left)} s ago (agent TTL ${ttl} s, refreshed every ${ttl / 2} s): fleetd is not heartbeating`];
      return [];
    })).flat();
    expect(problems, "fleetd problems").to.deep.equal([]);
  });
});
