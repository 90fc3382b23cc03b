// etcdctl output across versions (v2 and v3 formats), parsed into one shape, so suites hold for
// etcd 3.3 through 3.5 and fail with the real output when it does not parse.
import { AssertionFailed } from "galley/verifier";

export interface Member {
  id: string;
  name: string;
  started: boolean;
  peerURLs: string[];
  clientURLs: string[];
  isLeader?: boolean;
}

const urls = (s: string | undefined) => (s ?? "").split(",").map((u) => u.trim()).filter(Boolean);

/**
 * v3 simple: `c87d2569598c8e66, started, infra0, http://IP:2380, http://IP:2379, false`
 * v2:        `a7e311a6b89e188f: name=infra0 peerURLs=http://IP:2380 clientURLs=http://IP:2379 isLeader=true`
 *            `a7e311a6b89e188f[unstarted]: peerURLs=http://IP:2380`
 */
export function parseMemberList(text: string): Member[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const v2 = /^([0-9a-f]+)(\[unstarted\])?:\s*(.*)$/.exec(line);
    if (v2) {
      const kv = Object.fromEntries([...v2[3]!.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]));
      return {
        id: v2[1]!,
        name: kv.name ?? "",
        started: !v2[2],
        peerURLs: urls(kv.peerURLs),
        clientURLs: urls(kv.clientURLs),
        isLeader: kv.isLeader === undefined ? undefined : kv.isLeader === "true",
      };
    }
    const f = line.split(", ");
    if (f.length >= 5 && /^[0-9a-f]+$/.test(f[0]!)) {
      return { id: f[0]!, started: f[1] === "started", name: f[2]!, peerURLs: urls(f[3]), clientURLs: urls(f[4]) };
    }
    throw new AssertionFailed(`unrecognised \`etcdctl member list\` line: ${line}`);
  });
}

export interface MemberListView {
  /** The cluster the answering member belongs to (hex). */
  clusterId: string;
  /** The answering member's own id (hex). */
  memberId: string;
  members: Member[];
}

const hexOf = (decimal: string) => BigInt(decimal).toString(16);

/**
 * `ETCDCTL_API=3 etcdctl member list -w json` (3.3 and later): the answering member's cluster and member
 * ids from the header, and every member. uint64 ids are read as text, never through a float. A member
 * that never started has no name.
 */
export function parseMemberListJson(text: string): MemberListView {
  const header = /"header":\{[^}]*\}/.exec(text)?.[0] ?? "";
  const clusterId = /"cluster_id":(\d+)/.exec(header)?.[1];
  const memberId = /"member_id":(\d+)/.exec(header)?.[1];
  if (!clusterId || !memberId) throw new AssertionFailed(`unrecognised \`etcdctl member list -w json\` output: ${text.slice(0, 300)}`);
  const list = text.slice(text.indexOf('"members"'));
  const members = list.split(/(?=\{"ID":)/).filter((e) => e.startsWith('{"ID":')).map((e) => {
    const strings = (key: string) => [...(new RegExp(`"${key}":\\[([^\\]]*)\\]`).exec(e)?.[1] ?? "").matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    const name = /"name":"([^"]*)"/.exec(e)?.[1] ?? "";
    return {
      id: hexOf(/"ID":(\d+)/.exec(e)![1]!),
      name,
      started: name !== "",
      peerURLs: strings("peerURLs"),
      clientURLs: strings("clientURLs"),
    };
  });
  return { clusterId: hexOf(clusterId), memberId: hexOf(memberId), members };
}

export interface EndpointStatus {
  endpoint: string;
  id: string;
  version: string;
  isLeader: boolean;
  /** The leader this member names (JSON output only). */
  leader?: string;
}

/**
 * `ETCDCTL_API=3 etcdctl endpoint status -w json` (preferred: the same fields in every version) or
 * `-w simple` (3.3–3.5 columns: endpoint, ID, version, db size, is leader, …; 3.6 inserts columns).
 * JSON ids are uint64: read as text and turned into hex, never through a float.
 */
export function parseEndpointStatus(text: string): EndpointStatus[] {
  if (text.trim().startsWith("[")) {
    const entries = text.split(/(?=\{"Endpoint":)/).filter((e) => e.includes('"Endpoint"'));
    return entries.map((e) => {
      const endpoint = /"Endpoint":"([^"]+)"/.exec(e)?.[1];
      const member = /"member_id":(\d+)/.exec(e)?.[1];
      const leader = /"leader":(\d+)/.exec(e)?.[1];
      const version = /"version":"([^"]+)"/.exec(e)?.[1] ?? "";
      if (!endpoint || !member || !leader) throw new AssertionFailed(`unrecognised \`etcdctl endpoint status -w json\` entry: ${e.slice(0, 200)}`);
      const id = BigInt(member).toString(16);
      return { endpoint, id, version, isLeader: member === leader, leader: BigInt(leader).toString(16) };
    });
  }
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const f = line.split(", ");
    if (f.length < 5 || !/^[0-9a-f]+$/.test(f[1]!)) throw new AssertionFailed(`unrecognised \`etcdctl endpoint status\` line: ${line}`);
    return { endpoint: f[0]!, id: f[1]!, version: f[2]!, isLeader: f[4] === "true" };
  });
}

export interface LeaderStats {
  leader: string;
  followers: Record<string, { counts: { success: number; fail: number }; latency?: Record<string, number> }>;
}

export function parseLeaderStats(text: string): LeaderStats {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AssertionFailed(`/v2/stats/leader did not answer JSON: ${text.slice(0, 200)}`);
  }
  const s = json as LeaderStats;
  if (typeof s?.leader !== "string" || typeof s.followers !== "object") {
    throw new AssertionFailed(`/v2/stats/leader answered without leader/followers: ${text.slice(0, 200)}`);
  }
  return s;
}
