// The fleet cluster's attributes as the suites read them (typed: `useCluster<FleetAttributes>()`), with
// the defaults the provisioning applies (fixtures/fleet-cluster/README.md), and facts every suite needs.
import { FailFast, type Cluster, type Node } from "galley/verifier";

/** The attributes fixtures/fleet-cluster reads; every key optional, as in galley.yml. */
export interface FleetAttributes {
  etcd?: {
    cluster?: "static" | "discovery";
    client_port?: number;
    peer_port?: number;
    enable_v2?: boolean;
    discovery?: string;
  };
  fleet?: {
    agent_ttl?: string;
    metadata?: { region?: string; az?: string };
  };
}

export type FleetCluster = Cluster<FleetAttributes>;

export function ports(cluster: Cluster<FleetAttributes>) {
  const etcd = cluster.attributes.etcd ?? {};
  return { client: Number(etcd.client_port ?? 2379), peer: Number(etcd.peer_port ?? 2380) };
}

/** fleet's agent TTL (attribute fleet.agent_ttl, default 30s) in ms. */
export function agentTtlMs(cluster: Cluster<FleetAttributes>): number {
  const ttl = String(cluster.attributes.fleet?.agent_ttl ?? "30s");
  const m = /^(\d+)(ms|s|m)?$/.exec(ttl);
  if (!m) return 30_000;
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000);
}

/** HTTP status of etcd's v2 keys API on a node: 200 when fleet can use etcd, 404 once v2 is gone (3.6+). */
export async function v2Status(cluster: Cluster<FleetAttributes>, node: Node<FleetAttributes> = cluster.nodes[0]!): Promise<string> {
  return (await node.succeed(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${ports(cluster).client}/v2/keys/`)).trim();
}

/** fleet needs etcd's v2 API: fail at once, saying why, instead of waiting for machines that never come. */
export async function requireV2(cluster: Cluster<FleetAttributes>): Promise<void> {
  const status = await v2Status(cluster);
  if (status !== "200") {
    const version = /"etcdserver":"([^"]+)"/.exec(await cluster.nodes[0]!.succeed(`curl -fsS http://127.0.0.1:${ports(cluster).client}/version`))?.[1] ?? "?";
    throw new FailFast(`etcd ${version} does not serve the v2 API (HTTP ${status} on /v2/keys): fleet cannot register`);
  }
}
