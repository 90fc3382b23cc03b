// What the Jepsen-style suites know of etcd: who each member says leads (and in which term), how to find
// the leader for faults aimed at it, a small write workload that records every acknowledged write, and
// the exact check of what it recorded against what the cluster holds afterwards.
import { AssertionFailed, type Cluster, type Node } from "galley/verifier";
import { ports, type FleetAttributes } from "./expected.ts";

export interface MemberView {
  node: string;
  /** This member's id (hex). */
  id: string;
  /** The leader it follows (hex; "0" when it knows none). */
  leader: string;
  term: number;
  /** Raft index it has applied: how far it caught up. */
  raftIndex: number;
  /** The key-value store's revision. */
  revision: number;
}

/** `etcdctl endpoint status -w json` of one member's own endpoint, as data (uint64s read as text). */
export function parseStatus(node: string, text: string): MemberView {
  const num = (key: string) => /"\s*KEY"\s*:\s*(\d+)/.source.replace("KEY", key);
  const field = (key: string) => new RegExp(num(key)).exec(text)?.[1];
  const id = field("member_id");
  // A member that knows no leader leaves the field out (and says "etcdserver: no leader" in errors).
  const leader = field("leader") ?? "0";
  if (!id) throw new AssertionFailed(`${node}: unrecognised \`etcdctl endpoint status -w json\` output: ${text.slice(0, 300)}`);
  return {
    node,
    id: BigInt(id).toString(16),
    leader: BigInt(leader).toString(16),
    term: Number(field("raft_term") ?? 0),
    raftIndex: Number(field("raftIndex") ?? field("raft_index") ?? 0),
    revision: Number(field("revision") ?? 0),
  };
}

/** What each member says of itself, asked on its own endpoint; members that do not answer in 3 s are left out. */
export async function views(cluster: Cluster<FleetAttributes>, nodes: Node<FleetAttributes>[] = cluster.nodes): Promise<MemberView[]> {
  const { client } = ports(cluster);
  const out = await Promise.all(nodes.map(async (n) => {
    // A paused or crashed node cannot even run the command: it does not answer either.
    const r = await n.execute(`ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:${client} --command-timeout=3s endpoint status -w json`, { timeoutMs: 8000 }).catch(() => undefined);
    return r?.exitCode === 0 ? parseStatus(n.name, r.stdout) : undefined;
  }));
  return out.filter((v): v is MemberView => !!v);
}

/** The member ids by node name (from the member list of a node that answers). */
export async function memberIds(cluster: Cluster<FleetAttributes>, on: Node<FleetAttributes>): Promise<Record<string, string>> {
  const text = await on.succeed("ETCDCTL_API=3 etcdctl --command-timeout=5s member list -w json");
  const entries = text.split(/(?=\{"ID":)/).filter((e) => e.startsWith('{"ID":'));
  return Object.fromEntries(entries.map((e) => [/"name":"([^"]*)"/.exec(e)?.[1] ?? "?", BigInt(/"ID":(\d+)/.exec(e)![1]!).toString(16)]));
}

/**
 * The leader, as the members that answer agree: a node every answering member follows. Throws (so a
 * wait retries) while they disagree or know none. For useCluster({ leader }).
 */
export async function findLeader(cluster: Cluster<FleetAttributes>): Promise<Node<FleetAttributes>> {
  const seen = await views(cluster);
  const leaders = [...new Set(seen.map((v) => v.leader))];
  if (leaders.length !== 1 || leaders[0] === "0") throw new AssertionFailed(`no agreed leader: ${seen.map((v) => `${v.node} follows ${v.leader} (term ${v.term})`).join(", ") || "no member answered"}`);
  const leader = seen.find((v) => v.id === leaders[0]);
  if (!leader) throw new AssertionFailed(`the leader ${leaders[0]} did not answer itself`);
  return cluster.node(leader.node);
}

/** One write the workload tried. */
export interface Attempt {
  /** Unique: writer and sequence number ("w2-17"). */
  value: string;
  node: string;
  /** ok: acknowledged (HTTP 201); failed: refused before it could apply; unknown: timed out, may have applied. */
  outcome: "ok" | "failed" | "unknown";
  /** When it was sent and when the answer came (epoch ms). */
  at: number;
  end: number;
  detail?: string;
}

/**
 * Appends `value` to an in-order directory through `node`'s own etcd (v2 POST: etcd picks the key, so a
 * write that applied twice shows up twice, unlike a put to a fixed key).
 */
export async function append(cluster: Cluster<FleetAttributes>, node: Node<FleetAttributes>, dir: string, value: string): Promise<Attempt> {
  const { client } = ports(cluster);
  const at = Date.now();
  const r = await node.execute(`curl -sS -m 3 -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:${client}/v2/keys/${dir} -d value=${value}`, { timeoutMs: 10_000 });
  const code = r.stdout.trim();
  // 201 is an acknowledgement. A timeout (curl exit 28, HTTP 000) or a server-side timeout (5xx) says
  // nothing about whether it applied; a 4xx is a refusal.
  const outcome = code === "201" ? "ok" : /^4\d\d$/.test(code) ? "failed" : "unknown";
  return { value, node: node.name, outcome, at, end: Date.now(), detail: `HTTP ${code || "none"}, curl exit ${r.exitCode}` };
}

/** Every value in an in-order directory, read through a quorum (v2 `quorum=true`), in key order. */
export async function readAll(cluster: Cluster<FleetAttributes>, node: Node<FleetAttributes>, dir: string): Promise<string[]> {
  const { client } = ports(cluster);
  const text = await node.succeed(`curl -fsS 'http://127.0.0.1:${client}/v2/keys/${dir}?recursive=true&sorted=true&quorum=true'`);
  return [...text.matchAll(/"value":"([^"]*)"/g)].map((m) => m[1]!);
}

export interface WriteCheck {
  acknowledged: number;
  /** Acknowledged but absent. */
  lost: string[];
  /** Present more than once. */
  duplicated: string[];
  /** Present but never attempted. */
  unexpected: string[];
}

/** Jepsen's set check, kept exact: every acknowledged write present once, nothing twice, nothing invented. */
export function checkWrites(attempts: Attempt[], final: string[]): WriteCheck {
  const count = new Map<string, number>();
  for (const v of final) count.set(v, (count.get(v) ?? 0) + 1);
  const tried = new Set(attempts.map((a) => a.value));
  const acked = attempts.filter((a) => a.outcome === "ok");
  return {
    acknowledged: acked.length,
    lost: acked.filter((a) => !count.has(a.value)).map((a) => a.value),
    duplicated: [...count].filter(([, n]) => n > 1).map(([v]) => v),
    unexpected: [...count.keys()].filter((v) => !tried.has(v)),
  };
}
