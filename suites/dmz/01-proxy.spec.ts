// The DMZ: the proxy is the only way from the nodes to the discovery service. Both halves are proved:
// every node's discovery traffic went through the proxy, and a direct connection fails.
import { expect } from "chai";
import { useCluster } from "galley/verifier";
import type { FleetAttributes } from "../lib/expected.ts";

describe("dmz: discovery through the HTTP proxy", function () {
  const cluster = useCluster<FleetAttributes>();

  it("the proxy's access log shows discovery requests for the instance's token from every node", async () => {
    const token = String(cluster.exports["etcd.discovery"] ?? "");
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

  it("a node connecting to the discovery service directly is refused or times out; through the proxy it succeeds", async () => {
    const discovery = cluster.service("discovery");
    // curl's exit code says why it failed: 7 (no connection: refused, unreachable) and 28 (timed out)
    // prove the path is blocked; 6 (name not resolved) or anything else would prove nothing.
    const blocked = new Set([7, 28]);
    const results = await cluster.each(async (node) => {
      const direct = await node.execute(`curl -sS -m 3 -o /dev/null http://${discovery.ip}:8087/health`);
      const viaProxy = await node.succeed("curl -fsS -m 5 -x http://proxy:8888 http://discovery:8087/health");
      return `${node.name}: direct ${blocked.has(direct.exitCode) ? "blocked" : `NOT blocked (curl exit ${direct.exitCode}: ${(direct.stderr || "connected").trim()})`}, via proxy ${viaProxy.trim()}`;
    });
    expect(results, `connections to the discovery service at ${discovery.ip}:8087`).to.deep.equal(cluster.nodes.map((n) => `${n.name}: direct blocked, via proxy OK`));
  });
});
