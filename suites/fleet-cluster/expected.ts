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
