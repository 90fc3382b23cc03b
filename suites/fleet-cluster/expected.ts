// What the fleet-cluster provisioning is asked to produce, read from the instance's attributes with the
// same defaults the fixture applies (fixtures/fleet-cluster/README.md).
import { FailFast, type Cluster, type Node } from "galley/verifier";

type Attrs = Record<string, any>;

export function ports(cluster: Cluster) {
  const etcd = (cluster.attributes.etcd ?? {}) as Attrs;
  return { client: Number(etcd.client_port ?? 2379), peer: Number(etcd.peer_port ?? 2380) };
}

export function expectedMetadata(node: Node): Record<string, string> {
  const meta = ((node.attributes.fleet as Attrs)?.metadata ?? {}) as Attrs;
  const region = String(meta.region ?? "eu-central-1");
  const az = String(meta.az ?? `${region}${"abcdefghijklmnop"[node.index]}`);
  return { region, az };
}

/** fleet's agent TTL (attribute fleet.agent_ttl, default 30s) in ms. */
export function agentTtlMs(cluster: Cluster): number {
  const ttl = String(((cluster.attributes.fleet ?? {}) as Attrs).agent_ttl ?? "30s");
  const m = /^(\d+)(ms|s|m)?$/.exec(ttl);
  if (!m) return 30_000;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
}

/** HTTP status of etcd's v2 keys API on a node: 200 when fleet can use etcd, 404 once v2 is gone (3.6+). */
export async function v2Status(cluster: Cluster, node: Node = cluster.nodes[0]!): Promise<string> {
  return (await node.succeed(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${ports(cluster).client}/v2/keys/`)).trim();
}

/** fleet needs etcd's v2 API: fail at once, saying why, instead of waiting for machines that never come. */
export async function requireV2(cluster: Cluster): Promise<void> {
  const status = await v2Status(cluster);
  if (status !== "200") {
    const version = /"etcdserver":"([^"]+)"/.exec(await cluster.nodes[0]!.succeed(`curl -fsS http://127.0.0.1:${ports(cluster).client}/version`))?.[1] ?? "?";
    throw new FailFast(`etcd ${version} does not serve the v2 API (HTTP ${status} on /v2/keys): fleet cannot register`);
  }
}
