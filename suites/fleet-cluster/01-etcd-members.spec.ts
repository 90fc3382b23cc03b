import { expect } from "chai";
import { attach, etcd, retry, type Cluster } from "galley/verifier";
import { ports, v2Status } from "./expected.ts";

describe("etcd members", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  after(() => cluster?.close());

  it("every node lists exactly the instance's nodes as started members, with their peer and client URLs", async () => {
    const { client, peer } = ports(cluster);
    // One readable line per member, so a mismatch shows as a plain diff.
    const show = (m: { name: string; started: boolean; peerURLs: string[]; clientURLs: string[] }) =>
      `${m.name} ${m.started ? "started" : "unstarted"} peer=${m.peerURLs.join(",")} client=${m.clientURLs.join(",")}`;
    const expected = cluster.nodes
      .map((n) => show({ name: n.name, started: true, peerURLs: [`http://${n.ip}:${peer}`], clientURLs: [`http://${n.ip}:${client}`] }))
      .sort();
    await cluster.each(async (node) => {
      let members: etcd.Member[] = [];
      // A member that just joined shows as unstarted for a moment: wait for the list to settle, then compare.
      await retry(async () => {
        members = etcd.parseMemberList(await node.succeed("etcdctl member list"));
        return members.length === expected.length && members.every((m) => m.started);
      }, { what: `${expected.length} started members on ${node.name}`, timeoutMs: 30_000 }).catch(() => {});
      expect(members.map(show).sort(), `members seen by ${node.name}`).to.deep.equal(expected);
    });
  });

  // The cookbook advertised the peer port. etcd serves v3 gRPC there too, but not the v2 keys API that
  // fleet uses: check both APIs the cluster is meant to offer.
  it("every advertised client URL answers the client API (v3, and v2 where enabled)", async () => {
    // v2 only where the cluster serves it at all (asked on the local client port, not an advertised one).
    const v2 = (await v2Status(cluster)) === "200";
    const first = cluster.nodes[0]!;
    const members = etcd.parseMemberList(await first.succeed("etcdctl member list"));
    const advertised = members.flatMap((m) => m.clientURLs.map((url) => ({ member: m.name, url })));
    expect(advertised, "advertised client URLs").to.have.length.greaterThan(0);
    const broken: string[] = [];
    for (const { member, url } of advertised) {
      const r = await first.execute(`ETCDCTL_API=3 etcdctl --endpoints=${url} --command-timeout=3s endpoint health`);
      if (r.exitCode !== 0) broken.push(`${member} advertises ${url}, which does not answer the v3 API: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
      if (v2) {
        const code = (await first.execute(`curl -s -o /dev/null -w '%{http_code}' ${url}/v2/keys/`)).stdout.trim();
        if (code !== "200") broken.push(`${member} advertises ${url}, whose v2 keys API answers HTTP ${code}`);
      }
    }
    expect(broken, "client URLs that do not work").to.deep.equal([]);
  });

  it("every endpoint of the cluster is healthy", async () => {
    const out = await cluster.nodes[0]!.waitUntilSucceeds("ETCDCTL_API=3 etcdctl endpoint health --cluster 2>&1", { timeoutMs: 30_000 });
    const healthy = out.split("\n").filter((l) => /is healthy/.test(l));
    expect(healthy, out).to.have.length(cluster.nodes.length);
  });
});
