// The article's other ways to form the cluster: a discovery service, and the DMZ where the nodes reach
// it only through an HTTP proxy. Plus the ways they fail.
import { expect } from "chai";
import Docker from "dockerode";
import { galley, leftovers } from "./helpers.ts";

describe("galley test discovery-debian-12", function () {
  it("forms the cluster through the discovery service and passes the four suites", async () => {
    const r = await galley(["test", "discovery-debian-12"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/11 checks passed on discovery-debian-12/);
    expect(await leftovers("discovery-debian-12")).to.deep.equal([]);
  });
});

describe("galley test dmz-debian-12", function () {
  const instance = "dmz-debian-12";
  after(async () => {
    const r = await galley(["destroy", instance]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("passes the four suites and proves both the proxied path and the blocked direct path", async () => {
    const r = await galley(["test", instance, "--destroy", "never"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/13 checks passed on dmz-debian-12/);
  });

  it("fails when a node can reach the discovery service directly (the DMZ is breached), naming the node", async () => {
    const d = new Docker();
    const [backend] = await d.listNetworks({ filters: { label: [`galley.instance=${instance}`], name: ["backend"] } });
    const [node] = await d.listContainers({ filters: { label: [`galley.instance=${instance}`, "galley.node=infra1"] } });
    expect(backend, "the backend network").to.exist;
    await d.getNetwork(backend!.Id).connect({ Container: node!.Id });
    try {
      const r = await galley(["verify", instance]);
      expect(r.code, r.stderr).to.equal(10);
      expect(r.stderr).to.match(/'infra1: direct NOT blocked \(curl exit 0: connected\), via proxy OK'/);
    } finally {
      await d.getNetwork(backend!.Id).disconnect({ Container: node!.Id, Force: true });
    }
  });

  async function stopService(name: string) {
    const d = new Docker();
    const [c] = await d.listContainers({ filters: { label: [`galley.instance=${instance}`, `galley.node=${name}`] } });
    expect(c, `${name} container`).to.exist;
    await d.getContainer(c!.Id).kill();
  }

  it("with the proxy down, converge fails at once naming the proxy (and only it)", async () => {
    await stopService("proxy");
    const r = await galley(["converge", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/service proxy of dmz-debian-12 is down \(container galley-dmz-debian-12-proxy-\w+ exited/);
    expect(r.stderr).not.to.match(/service discovery/);
    expect(r.ms, "fails without waiting on the nodes").to.be.lessThan(15_000);
  });

  it("with the discovery service down too, the error names both", async () => {
    await stopService("discovery");
    const r = await galley(["converge", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/service discovery of dmz-debian-12 is down/);
    expect(r.stderr).to.match(/service proxy of dmz-debian-12 is down/);
  });
});

describe("a discovery token whose size is not the node count", function () {
  const config = ["--config", "fixtures/broken/galley.yml"];
  after(async () => {
    await galley([...config, "destroy", "discovery-wrong-size-debian-12"]);
    expect(await leftovers("discovery-wrong-size-debian-12")).to.deep.equal([]);
  });

  it("fails the converge within etcd.form_timeout, naming the token and how many members registered", async () => {
    const r = await galley([...config, "converge", "discovery-wrong-size-debian-12"]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/etcd discovery token http:\/\/discovery:8087\/[0-9a-f]+ expects 5 members and 3 registered \(3 nodes\): the cluster cannot form/);
    expect(r.ms, "bounded: create + 20 s form timeout + margin").to.be.lessThan(90_000);
  });
});
