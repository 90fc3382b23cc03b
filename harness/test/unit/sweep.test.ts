// The sweep against a fake Docker client: it keeps going past every failure, reports each resource it
// could not remove with Docker's reason, and removes only the cgroups its own nodes' Docker made.
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sweep, type SweepClient } from "../../src/drivers/docker/sweep.ts";

const id = (c: string) => c.repeat(64);

function dockerError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
}

interface FakeSpec {
  containers: { id: string; name: string; volumes?: string[]; remove: () => Promise<void> }[];
  networks: { id: string; name: string; remove: () => Promise<void>; attached?: string[] }[] | (() => Promise<never>);
  volumes: { name: string; mountpoint?: string; remove: () => Promise<void> }[];
  images?: { id: string; tag: string; remove: () => Promise<void> }[];
}

function fakeDocker(spec: FakeSpec) {
  const calls: string[] = [];
  const client = {
    listContainers: async () => spec.containers.map((c) => ({
      Id: c.id,
      Names: [`/${c.name}`],
      Mounts: (c.volumes ?? []).map((v) => ({ Type: "volume", Name: v })),
    })),
    getContainer: (cid: string) => ({
      remove: () => {
        calls.push(`remove container ${cid.slice(0, 4)}`);
        return spec.containers.find((c) => c.id === cid)!.remove();
      },
    }),
    listNetworks: async () => (typeof spec.networks === "function" ? spec.networks() : spec.networks.map((n) => ({ Id: n.id, Name: n.name }))),
    getNetwork: (nid: string) => {
      const n = (spec.networks as Exclude<FakeSpec["networks"], () => unknown>).find((x) => x.id === nid)!;
      return {
        remove: () => {
          calls.push(`remove network ${n.name}`);
          return n.remove();
        },
        inspect: async () => ({ Containers: Object.fromEntries((n.attached ?? []).map((c) => [c, { Name: c }])) }),
        disconnect: async (o: { Container: string }) => {
          calls.push(`disconnect ${o.Container} from ${n.name}`);
          n.attached = (n.attached ?? []).filter((c) => c !== o.Container);
        },
      };
    },
    listVolumes: async () => ({ Volumes: spec.volumes.map((v) => ({ Name: v.name, Mountpoint: v.mountpoint ?? "/nonexistent" })) }),
    getVolume: (name: string) => ({
      remove: () => {
        calls.push(`remove volume ${name}`);
        return spec.volumes.find((v) => v.name === name)!.remove();
      },
    }),
    listImages: async (o: { filters: { label: string[] } }) => {
      calls.push(`list images ${o.filters.label.join(" ")}`);
      return (spec.images ?? []).map((i) => ({ Id: i.id, RepoTags: [i.tag] }));
    },
    getImage: (iid: string) => ({
      remove: () => {
        calls.push(`remove image ${iid}`);
        return spec.images!.find((i) => i.id === iid)!.remove();
      },
    }),
  };
  return { client: client as unknown as SweepClient, calls };
}

const owner = { instance: "static-debian-12", root: "/somewhere" };
const ok = async () => {};

describe("sweep", () => {
  it("tries every resource, reports each failure with Docker's reason, and counts what it removed", async () => {
    const net2 = { id: "n2", name: "net-b", attached: [] as string[], remove: async () => { throw dockerError(500, "error while removing network: iptables failed"); } };
    let netAActive = true;
    const { client, calls } = fakeDocker({
      containers: [
        { id: id("a"), name: "node-a", remove: ok },
        { id: id("b"), name: "node-b", remove: async () => { throw dockerError(500, "could not kill: device or resource busy"); } },
        { id: id("c"), name: "node-c", remove: async () => { throw dockerError(404, "No such container"); } },
      ],
      networks: [
        // A user's container still attached: disconnected, then the network goes.
        { id: "n1", name: "net-a", attached: ["users-container"], remove: async () => { if (netAActive) { netAActive = false; throw dockerError(403, "error while removing network: network net-a has active endpoints"); } } },
        net2,
      ],
      volumes: [
        { name: "vol-a", remove: ok },
        { name: "vol-b", remove: async () => { throw dockerError(409, "remove vol-b: volume is in use - [bbbb]"); } },
      ],
    });
    const r = await sweep(owner, client);
    expect(r.failures).to.deep.equal([
      { resource: "container node-b", reason: "could not kill: device or resource busy (HTTP 500)" },
      { resource: "network net-b", reason: "error while removing network: iptables failed (HTTP 500)" },
      { resource: "volume vol-b", reason: "remove vol-b: volume is in use - [bbbb] (HTTP 409)" },
    ]);
    expect(r.containers).to.have.members(["node-a", "node-c"]);
    expect(r.networks).to.deep.equal(["net-a"]);
    expect(r.volumes).to.deep.equal(["vol-a"]);
    expect(calls).to.include.members(["disconnect users-container from net-a", "remove volume vol-a", "remove volume vol-b", "remove network net-b"]);
  });

  it("removes the instance's snapshot images (only those labelled galley.snapshot), after its containers", async () => {
    const { client, calls } = fakeDocker({
      containers: [{ id: id("a"), name: "node-a", remove: ok }],
      networks: [],
      volumes: [],
      images: [
        { id: "sha256:i1", tag: "galley-snapshot/static-debian-12-infra0-abcdef:converged", remove: ok },
        { id: "sha256:i2", tag: "galley-snapshot/static-debian-12-infra1-abcdef:converged", remove: async () => { throw dockerError(409, "image is being used by running container"); } },
      ],
    });
    const r = await sweep(owner, client);
    expect(r.images).to.deep.equal(["galley-snapshot/static-debian-12-infra0-abcdef:converged"]);
    expect(r.failures).to.deep.equal([{ resource: "image galley-snapshot/static-debian-12-infra1-abcdef:converged", reason: "image is being used by running container (HTTP 409)" }]);
    const listing = calls.find((c) => c.startsWith("list images"))!;
    expect(listing, "the image filter").to.include("galley.instance=static-debian-12").and.to.match(/ galley\.snapshot$/);
    expect(calls.indexOf("remove container aaaa"), "containers before images").to.be.lessThan(calls.indexOf("remove image sha256:i1"));
  });

  it("a listing that fails is reported and the rest is still removed", async () => {
    const { client } = fakeDocker({
      containers: [{ id: id("a"), name: "node-a", remove: ok }],
      networks: async () => { throw dockerError(500, "daemon busy"); },
      volumes: [{ name: "vol-a", remove: ok }],
    });
    const r = await sweep(owner, client);
    expect(r.failures).to.deep.equal([{ resource: "networks (listing)", reason: "daemon busy (HTTP 500)" }]);
    expect(r.containers).to.deep.equal(["node-a"]);
    expect(r.volumes).to.deep.equal(["vol-a"]);
  });

  it("a call Docker never answers is a failure after the timeout, not a hang", async () => {
    const { client } = fakeDocker({
      containers: [{ id: id("a"), name: "node-a", remove: () => new Promise(() => {}) }, { id: id("b"), name: "node-b", remove: ok }],
      networks: [],
      volumes: [],
    });
    const r = await sweep(owner, client, { callTimeoutMs: 50 });
    expect(r.failures).to.have.length(1);
    expect(r.failures[0]!.resource).to.equal("container node-a");
    expect(r.failures[0]!.reason).to.match(/did not answer removing container node-a within/);
    expect(r.containers).to.deep.equal(["node-b"]);
  });

  describe("cgroups left by a node's own Docker", () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(path.join(os.tmpdir(), "galley-sweep-"));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));

    it("removes those of containers listed in the instance's volumes (with their sub-cgroups), never another's", async () => {
      const hierarchy = path.join(root, "memory");
      const inner = id("1");
      const other = id("2"); // some other container's cgroup beside it
      const kept = id("3"); // inner container of a node whose removal failed
      mkdirSync(path.join(hierarchy, "docker", inner, "sub"), { recursive: true });
      mkdirSync(path.join(hierarchy, "docker", other), { recursive: true });
      mkdirSync(path.join(hierarchy, "docker", kept), { recursive: true });
      mkdirSync(path.join(hierarchy, "system.slice", `docker-${inner}.scope`), { recursive: true });
      for (const [vol, cid] of [["vol-a", inner], ["vol-b", kept]] as const) mkdirSync(path.join(root, vol, "containers", cid), { recursive: true });
      const { client } = fakeDocker({
        containers: [
          { id: id("a"), name: "node-a", volumes: ["vol-a"], remove: ok },
          { id: id("b"), name: "node-b", volumes: ["vol-b"], remove: async () => { throw dockerError(500, "stuck"); } },
        ],
        networks: [],
        volumes: [
          { name: "vol-a", mountpoint: path.join(root, "vol-a"), remove: ok },
          { name: "vol-b", mountpoint: path.join(root, "vol-b"), remove: async () => { throw dockerError(409, "volume is in use"); } },
        ],
      });
      const r = await sweep(owner, client, { cgroupMounts: [hierarchy] });
      expect(r.cgroups).to.have.members([path.join(hierarchy, "docker", inner), path.join(hierarchy, "system.slice", `docker-${inner}.scope`)]);
      expect(existsSync(path.join(hierarchy, "docker", inner))).to.equal(false);
      expect(existsSync(path.join(hierarchy, "docker", other)), "another container's cgroup").to.equal(true);
      expect(existsSync(path.join(hierarchy, "docker", kept)), "cgroup of a node that is still there").to.equal(true);
      expect(r.failures.map((f) => f.resource)).to.deep.equal(["container node-b", "volume vol-b"]);
    });
  });
});
