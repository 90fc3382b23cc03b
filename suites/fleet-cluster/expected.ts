// What the fleet-cluster provisioning is asked to produce, read from the instance's attributes with the
// same defaults the fixture applies (fixtures/fleet-cluster/README.md).
import type { Cluster, Node } from "galley/verifier";

type Attrs = Record<string, any>;

export function ports(cluster: Cluster) {
  const etcd = (cluster.attributes.etcd ?? {}) as Attrs;
  return { client: Number(etcd.client_port ?? 2379), peer: Number(etcd.peer_port ?? 2380) };
}

export function expectedMetadata(node: Node): Record<string, string> {
  const meta = ((node.attributes.fleet as Attrs)?.metadata ?? {}) as Attrs;
  const region = String(meta.region ?? "eu-central-1");
  const az = String(meta.az ?? `${region}${"abcdefghijklmnop"[Number(nodeIndex(node))]}`);
  return { region, az };
}

function nodeIndex(node: Node): number {
  return Number(/(\d+)$/.exec(node.name)?.[1] ?? 0);
}

/** fleet's agent TTL (attribute fleet.agent_ttl, default 30s) in ms. */
export function agentTtlMs(cluster: Cluster): number {
  const ttl = String(((cluster.attributes.fleet ?? {}) as Attrs).agent_ttl ?? "30s");
  const m = /^(\d+)(ms|s|m)?$/.exec(ttl);
  if (!m) return 30_000;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
}
