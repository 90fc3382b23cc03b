import { expect } from "chai";
import { attach, etcd, retry, type Cluster } from "galley/verifier";
import { ports } from "./expected.ts";

describe("etcd members", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  after(() => cluster?.close());

  it("every node lists exactly the instance's nodes as started members, with their peer and client URLs", async () => {
    const { client, peer } = ports(cluster);
    const expected = cluster.nodes
      .map((n) => ({ name: n.name, started: true, peerURLs: [`http://${n.ip}:${peer}`], clientURLs: [`http://${n.ip}:${client}`] }))
      .sort((a, b) => a.name.localeCompare(b.name));
    await cluster.each(async (node) => {
      let members: etcd.Member[] = [];
      // A member that just joined shows as unstarted for a moment: wait for the list to settle, then compare.
      await retry(async () => {
        members = etcd.parseMemberList(await node.succeed("etcdctl member list"));
        return members.length === expected.length && members.every((m) => m.started);
      }, { what: `${expected.length} started members on ${node.name}`, timeoutMs: 30_000 }).catch(() => {});
      const seen = members.map(({ name, started, peerURLs, clientURLs }) => ({ name, started, peerURLs, clientURLs }));
      expect(seen.sort((a, b) => a.name.localeCompare(b.name)), `members seen by ${node.name}`).to.deep.equal(expected);
    });
  });

  it("every advertised client URL answers the client API", async () => {
    const first = cluster.nodes[0]!;
    const members = etcd.parseMemberList(await first.succeed("etcdctl member list"));
    const advertised = members.flatMap((m) => m.clientURLs.map((url) => ({ member: m.name, url })));
    expect(advertised, "advertised client URLs").to.have.length.greaterThan(0);
    const broken: string[] = [];
    for (const { member, url } of advertised) {
      const r = await first.execute(`ETCDCTL_API=3 etcdctl --endpoints=${url} --command-timeout=3s endpoint health`);
      if (r.exitCode !== 0) broken.push(`${member} advertises ${url}, which does not answer the client API: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
    }
    expect(broken, "client URLs that do not work").to.deep.equal([]);
  });

  it("every endpoint of the cluster is healthy", async () => {
    const out = await cluster.nodes[0]!.waitUntilSucceeds("ETCDCTL_API=3 etcdctl endpoint health --cluster 2>&1", { timeoutMs: 30_000 });
    const healthy = out.split("\n").filter((l) => /is healthy/.test(l));
    expect(healthy, out).to.have.length(cluster.nodes.length);
  });
});
