// Checks the converged cluster: `npx galley verify` (or, against a converged instance,
// `GALLEY_INSTANCE=hello-debian-12 npx mocha --require galley/register --timeout 3m 'spec/*.spec.ts'`).
import { expect } from "chai";
import { useCluster } from "galley/verifier";

/** What galley.yml gives the nodes. */
interface Attributes {
  hello?: { port?: number };
}

describe("hello", function () {
  const cluster = useCluster<Attributes>();

  it("runs hello.service on every node", async () => {
    await cluster.each((node) => node.waitForUnit("hello.service"));
  });

  it("serves every node's own page to the other nodes", async () => {
    await cluster.each(async (node) => {
      const port = node.attributes.hello?.port ?? 8080;
      const page = await cluster.other(node).waitUntilSucceeds(`curl -fsS http://${node.ip}:${port}/`, { timeoutMs: 15_000 });
      expect(page.trim()).to.equal(`hello from ${node.name}`);
    });
  });
});
