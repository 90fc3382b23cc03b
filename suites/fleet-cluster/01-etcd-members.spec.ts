// The etcd cluster the article builds: every node a started member of ONE cluster, each advertising
// working peer and client URLs. Names and URLs alone are not enough: a member of another cluster
// (restored from a snapshot, a stale data dir) can carry the same ones, so cluster and member ids are
// compared across every node's view.
import { expect } from "chai";
import { eventually, useCluster, type Node } from "galley/verifier";
import * as etcd from "../lib/etcd.ts";
import { ports, v2Status, type FleetAttributes } from "../lib/expected.ts";

describe("etcd members", function () {
  const cluster = useCluster<FleetAttributes>();

  const memberList = async (node: Node) =>
    etcd.parseMemberListJson(await node.succeed("ETCDCTL_API=3 etcdctl member list -w json"));

  it("every node lists exactly the instance's nodes as started members of one cluster, with their peer and client URLs", async () => {
    const { client, peer } = ports(cluster);
    // One readable line per member, so a mismatch shows as a plain diff.
    const show = (m: { name: string; started: boolean; peerURLs: string[]; clientURLs: string[] }) =>
      `${m.name} ${m.started ? "started" : "unstarted"} peer=${m.peerURLs.join(",")} client=${m.clientURLs.join(",")}`;
    const expected = cluster.nodes
      .map((n) => show({ name: n.name, started: true, peerURLs: [`http://${n.ip}:${peer}`], clientURLs: [`http://${n.ip}:${client}`] }))
      .sort();
    // A member that just joined shows as unstarted for a moment: the list must settle to the expected one.
    const views = await cluster.each((node) => eventually(async () => {
      const view = await memberList(node);
      expect(view.members.map(show).sort(), `members seen by ${node.name}`).to.deep.equal(expected);
      return view;
    }, { what: `${expected.length} started members on ${node.name}`, timeoutMs: 30_000 }));

    // One cluster: every node's own etcd answers with the same cluster id, and the id each node's etcd
    // has for itself is the id every node lists under that name.
    const clusterIdOf = Object.fromEntries(cluster.nodes.map((n, i) => [n.name, views[i]!.clusterId]));
    const first = views[0]!.clusterId;
    expect(clusterIdOf, "cluster id reported by each node's etcd").to.deep.equal(Object.fromEntries(cluster.nodes.map((n) => [n.name, first])));
    const ownIds = Object.fromEntries(cluster.nodes.map((n, i) => [n.name, views[i]!.memberId]));
    cluster.nodes.forEach((n, i) => {
      const listed = Object.fromEntries(views[i]!.members.map((m) => [m.name, m.id]));
      expect(listed, `member ids listed by ${n.name} vs each node's own member id`).to.deep.equal(ownIds);
    });
  });

  // The cookbook advertised the peer port. etcd serves v3 gRPC there too, but not the v2 keys API that
  // fleet uses: check both APIs the cluster is meant to offer.
  it("every advertised client URL answers the client API (v3, and v2 where enabled)", async () => {
    // v2 only where the cluster serves it at all (asked on the local client port, not an advertised one).
    const first = cluster.nodes[0]!;
    const [v2, listed] = await Promise.all([v2Status(cluster).then((s) => s === "200"), memberList(first)]);
    const advertised = listed.members.flatMap((m) => m.clientURLs.map((url) => ({ member: m.name, url })));
    expect(advertised, "advertised client URLs").to.have.length(cluster.nodes.length);
    // Every URL, both APIs, asked at once: independent reads.
    const broken = (await Promise.all(advertised.map(async ({ member, url }) => {
      const [r, code] = await Promise.all([
        first.execute(`ETCDCTL_API=3 etcdctl --endpoints=${url} --command-timeout=3s endpoint health`),
        v2 ? first.execute(`curl -s -o /dev/null -w '%{http_code}' ${url}/v2/keys/`).then((c) => c.stdout.trim()) : undefined,
      ]);
      return [
        ...(r.exitCode !== 0 ? [`${member} advertises ${url}, which does not answer the v3 API: ${(r.stderr || r.stdout).trim().split("\n").pop()}`] : []),
        ...(code !== undefined && code !== "200" ? [`${member} advertises ${url}, whose v2 keys API answers HTTP ${code}`] : []),
      ];
    }))).flat();
    expect(broken, "client URLs that do not work").to.deep.equal([]);
  });

  it("every endpoint of the cluster is healthy", async () => {
    const out = await cluster.nodes[0]!.waitUntilSucceeds("ETCDCTL_API=3 etcdctl endpoint health --cluster 2>&1", { timeoutMs: 30_000 });
    const healthy = out.split("\n").filter((l) => /is healthy/.test(l)).map((l) => l.split(" ")[0]!).sort();
    expect(healthy, out).to.deep.equal(cluster.nodes.map((n) => `http://${n.ip}:${ports(cluster).client}`).sort());
  });
});
