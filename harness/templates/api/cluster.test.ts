// Your own mocha suite, with the cluster brought up by Galley (as testcontainers brings up a container).
// Run it with `npx mocha --import tsx test/cluster.test.ts` in a project made by `npx galley init`.
import { expect } from "chai";
import { GalleyInstance, type StartedGalleyInstance } from "galley";

describe("the hello cluster", function () {
  this.timeout("5m"); // the first run builds the box
  let cluster: StartedGalleyInstance<{ hello?: { port?: number } }>;

  before(async () => {
    // Destroys what an earlier run left, creates and converges hello-debian-12 from galley.yml.
    cluster = await new GalleyInstance("hello-debian-12", { config: "galley.yml" }).start();
  });

  after(async () => {
    await cluster?.stop(); // destroys it (also done at exit, SIGINT or SIGTERM if a run never gets here)
  });

  it("serves every node's page to the other", async () => {
    await cluster.each(async (node) => {
      const port = node.attributes.hello?.port ?? 8080;
      const page = await cluster.other(node).waitUntilSucceeds(`curl -fsS http://${node.ip}:${port}/`);
      expect(page.trim()).to.equal(`hello from ${node.name}`);
    });
  });

  it("keeps serving after a node is stopped and started again", async () => {
    const web1 = cluster.node("web1");
    await web1.stop();
    await web1.start();
    await web1.waitForUnit("hello.service");
    expect(await cluster.node("web0").succeed(`curl -fsS http://${web1.ip}:8080/`)).to.contain("hello from web1");
  });
});
