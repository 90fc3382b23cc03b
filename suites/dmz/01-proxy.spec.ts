// The DMZ: the proxy is the only way from the nodes to the discovery service. Both halves are proved:
// every node's discovery traffic went through the proxy, and a direct connection fails.
import { expect } from "chai";
import { attach, type Cluster } from "galley/verifier";

describe("dmz: discovery through the HTTP proxy", function () {
  let cluster: Cluster;
  before(async () => {
    cluster = await attach();
  });
  after(() => cluster?.close());

  it("the proxy's access log shows discovery requests for the instance's token from every node", async () => {
    const token = String(cluster.state.exports?.["etcd.discovery"] ?? "");
    expect(token, "discovery token").to.match(/^http:\/\/discovery:8087\/[0-9a-f]+$/);
    const log = await cluster.service("proxy").succeed("journalctl -u tinyproxy --no-pager -o cat");
    // tinyproxy logs "Connect (file descriptor N): <client ip>" then "Request (file descriptor N): <line>".
    const clientOfFd = new Map<string, string>();
    const requesters = new Set<string>();
    let requests = 0;
    for (const line of log.split("\n")) {
      const connect = /Connect \(file descriptor (\d+)\): (\S+)/.exec(line);
      if (connect) clientOfFd.set(connect[1]!, connect[2]!);
      const request = /Request \(file descriptor (\d+)\): \w+ (\S+)/.exec(line);
      if (request && request[2]!.startsWith(token)) {
        requests++;
        requesters.add(clientOfFd.get(request[1]!) ?? "?");
      }
    }
    expect(requests, `requests for ${token} in the proxy log`).to.be.greaterThan(0);
    expect([...requesters].sort(), "nodes whose discovery requests the proxy carried").to.deep.equal(cluster.nodes.map((n) => n.ip).sort());
  });

  it("a node connecting to the discovery service directly fails; through the proxy it succeeds", async () => {
    const discovery = cluster.service("discovery");
    await cluster.each(async (node) => {
      await node.fail(`curl -sS -m 3 http://${discovery.ip}:8087/health`);
      await node.fail("curl -sS -m 3 --noproxy '*' http://discovery:8087/health");
      const viaProxy = await node.succeed("curl -fsS -m 5 -x http://proxy:8888 http://discovery:8087/health");
      expect(viaProxy.trim(), `${node.name} through the proxy`).to.equal("OK");
    });
  });
});
