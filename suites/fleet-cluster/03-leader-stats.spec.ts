// The article reads /v2/stats/leader on the leader: one leader, every other member a follower with
// successful heartbeats. etcd 3.6+ has no v2 API: there the same facts come from endpoint status and
// the leader's metrics.
import { expect } from "chai";
import { eventually, skipIf, useCluster } from "galley/verifier";
import * as etcd from "../lib/etcd.ts";
import { ports, v2Status, type FleetAttributes } from "../lib/expected.ts";

describe("etcd leader stats", function () {
  const cluster = useCluster<FleetAttributes>();

  it("one leader and N-1 followers with successful heartbeats, as endpoint status says (/v2/stats/leader, or v3 metrics where v2 is gone)", async () => {
    const { client } = ports(cluster);
    const first = cluster.nodes[0]!;
    const [statusJson, membersJson, v2] = await Promise.all([
      first.succeed("ETCDCTL_API=3 etcdctl endpoint status --cluster -w json"),
      first.succeed("ETCDCTL_API=3 etcdctl member list -w json"),
      v2Status(cluster),
    ]);
    const status = etcd.parseEndpointStatus(statusJson);
    const leaders = status.filter((s) => s.isLeader);
    expect(leaders, `leaders in endpoint status ${JSON.stringify(status)}`).to.have.length(1);
    const leader = leaders[0]!;
    const leaderNode = cluster.nodeByIp(new URL(leader.endpoint).hostname);
    const members = etcd.parseMemberListJson(membersJson).members;
    const followers = members.map((m) => m.id).filter((id) => id !== leader.id).sort();
    expect(followers, "followers").to.have.length(cluster.nodes.length - 1);

    if (v2 === "200") {
      // Heartbeats to a follower that just joined may not have been counted yet: wait for them.
      const stats = await eventually(async () => {
        const s = etcd.parseLeaderStats(await first.succeed(`curl -fsS http://${leaderNode.ip}:${client}/v2/stats/leader`));
        expect(s.leader, "leader in /v2/stats/leader vs endpoint status").to.equal(leader.id);
        expect(Object.keys(s.followers).sort(), "followers in /v2/stats/leader").to.deep.equal(followers);
        const heartbeats = Object.fromEntries(Object.entries(s.followers).map(([id, f]) => [id, f.counts.success > 0]));
        expect(heartbeats, "followers with successful heartbeats").to.deep.equal(Object.fromEntries(followers.map((id) => [id, true])));
        return s;
      }, { what: "followers with successful heartbeats in /v2/stats/leader", timeoutMs: 15_000 });
      expect(stats.leader).to.equal(leader.id);
      return;
    }
    // etcd 3.6+ serves no v2 stats: every member must name the same leader, and the leader's metrics
    // must show traffic to each follower.
    expect(status.map((s) => s.leader), "leader named by each member").to.deep.equal(status.map(() => leader.id));
    const metrics = await first.succeed(`curl -fsS http://${leaderNode.ip}:${client}/metrics`);
    for (const id of followers) {
      const sent = new RegExp(`etcd_network_peer_sent_bytes_total\\{To="${id}"\\} (\\S+)`).exec(metrics)?.[1];
      expect(Number(sent ?? 0), `bytes the leader sent to follower ${id}`).to.be.greaterThan(0);
    }
  });

  it("a follower refuses /v2/stats/leader (it is not the leader)", async function () {
    skipIf(this, cluster.nodes.length < 2, "a single-node cluster has no follower");
    const { client } = ports(cluster);
    skipIf(this, (await v2Status(cluster)) !== "200", "this etcd serves no v2 API at all (etcd 3.6+)");
    const status = etcd.parseEndpointStatus(await cluster.nodes[0]!.succeed("ETCDCTL_API=3 etcdctl endpoint status --cluster -w json"));
    const follower = status.find((s) => !s.isLeader);
    expect(follower, "a follower").to.not.equal(undefined);
    const code = (await cluster.nodes[0]!.succeed(`curl -s -o /dev/null -w '%{http_code}' ${follower!.endpoint.replace(/:\d+$/, `:${client}`)}/v2/stats/leader`)).trim();
    expect(code, "HTTP status of /v2/stats/leader on a follower").to.equal("403");
  });
});
