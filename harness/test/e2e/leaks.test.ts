// Nothing left behind, on the whole host: every container, network and volume (not only Galley's
// labels), the processes the runs started, and Docker's cgroup directories — including those of the
// containers Docker *inside* the nodes runs (test.service's busybox), which share the host's cgroup
// tree. And `destroy` removes an instance whatever state faults or a user left its nodes in.
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { loadBox, SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { imageOf } from "../../src/drivers/docker/box.ts";
import { labelsFor, projectId } from "../../src/drivers/docker/labels.ts";
import { systemdRecipe } from "../../src/drivers/docker/systemd.ts";
import { galley, hostSnapshot, LeakWatch, repo } from "./helpers.ts";

const d = new Docker();

/** The container of a node or service of an instance of this checkout's galley.yml. */
async function containerOf(instance: string, node: string): Promise<Docker.Container> {
  const [c] = await d.listContainers({
    all: true,
    filters: { label: [`galley.instance=${instance}`, `galley.project=${projectId(repo)}`, `galley.node=${node}`] },
  });
  if (!c) throw new Error(`no container for ${instance} ${node}`);
  return d.getContainer(c.Id);
}

/** Ids of the containers a node's own Docker made (read from its /var/lib/docker volume). */
async function innerContainers(instance: string, node: string): Promise<string[]> {
  const info = await (await containerOf(instance, node)).inspect();
  const volume = info.Mounts.find((m) => m.Destination === "/var/lib/docker");
  const { readdirSync } = await import("node:fs");
  return readdirSync(path.join(volume!.Source, "containers"));
}

/** Host cgroup directories (top-most, by container id) of these containers. */
async function hostCgroupsOf(ids: string[]): Promise<string[]> {
  const { cgroups } = await hostSnapshot();
  return cgroups.filter((g) => ids.some((id) => g.includes(id)));
}

async function exec(instance: string, node: string, script: string): Promise<string> {
  const r = await galley(["exec", instance, "--node", node, "--", script]);
  expect(r.code, `${node}: ${script}\n${r.stdout}${r.stderr}`).to.equal(0);
  return r.stdout;
}

const countDockerCgroups = async () => (await hostSnapshot()).cgroups.length;

describe("leaks: the host after a run", function () {
  const instance = "static-debian-12";
  before(() => galley(["destroy", instance]));
  after(() => galley(["destroy", instance]));

  it("nested containers keep their cgroups inside their node's; a crashed node and destroy leave no cgroup, container, network, volume or process", async () => {
    const watch = await LeakWatch.start();
    const cgroupsBefore = await countDockerCgroups();
    const c = await galley(["converge", instance]);
    expect(c.code, c.stderr).to.equal(0);
    // Beside test.service's busybox, one more inner container on every node.
    for (const node of ["infra0", "infra1", "infra2"]) await exec(instance, node, "docker run -d busybox sleep 1000 >/dev/null");
    const inner = Object.fromEntries(await Promise.all(["infra0", "infra1", "infra2"].map(async (n) => [n, await innerContainers(instance, n)] as const)));
    expect(inner.infra0, "inner containers of infra0").to.not.be.empty;
    expect(await hostCgroupsOf(Object.values(inner).flat()), "inner containers' cgroups beside the host's own").to.deep.equal([]);
    await watch.note();

    await (await containerOf(instance, "infra0")).kill({ signal: "SIGKILL" });
    expect(await hostCgroupsOf(inner.infra0!), "cgroups of a crashed node's inner containers").to.deep.equal([]);

    const r = await galley(["destroy", instance]);
    expect(r.code, r.stderr).to.equal(0);
    const left = await watch.leftovers();
    console.log(`      docker cgroup directories on the host: ${cgroupsBefore} before, ${await countDockerCgroups()} after (other checkouts' included)`);
    expect(left, `new on the host since the test began:\n${left.join("\n")}`).to.deep.equal([]);
  });
});

describe("leaks: destroy whatever state the nodes are in", function () {
  const instance = "dmz-debian-12"; // 3 nodes and 2 services (a proxy on two networks, discovery on the backend)
  before(() => galley(["destroy", instance]));
  after(() => galley(["destroy", instance]));

  it("frozen processes and paused, crashed, isolated nodes, a stopped and a paused service: destroy exits 0 and leaves nothing", async () => {
    const watch = await LeakWatch.start();
    const c = await galley(["converge", instance]);
    expect(c.code, c.stderr).to.equal(0);

    // infra0: fleetd and etcd frozen (SIGSTOP), then the whole node paused.
    await exec(instance, "infra0", "pkill -STOP -x fleetd; pkill -STOP -x etcd; ps -o stat= -C etcd,fleetd | grep -c T");
    await (await containerOf(instance, "infra0")).pause();

    // infra1: its Docker configured (as a provisioning might) with the cgroupfs driver, so its container's
    // cgroup sits beside the host's; then crashed. Only destroy can remove that cgroup now.
    const beside = await exec(instance, "infra1", [
      `echo '{"exec-opts":["native.cgroupdriver=cgroupfs"]}' > /etc/docker/daemon.json`,
      "systemctl restart docker",
      "docker run -d busybox sleep 1000",
    ].join(" && "));
    const besideId = beside.trim().split(/\s+/).pop()!;
    expect(besideId).to.match(/^[0-9a-f]{64}$/);
    const cgroupV1 = (await d.info()).CgroupVersion !== "2";
    if (cgroupV1) expect(await hostCgroupsOf([besideId]), "a cgroupfs inner container's cgroups").to.not.be.empty;
    await (await containerOf(instance, "infra1")).kill({ signal: "SIGKILL" });
    if (cgroupV1) expect(await hostCgroupsOf([besideId]), "left behind by the crash").to.not.be.empty;

    // infra2: cut from the node network.
    const infra2 = await containerOf(instance, "infra2");
    const nodesNet = Object.keys((await infra2.inspect()).NetworkSettings.Networks)[0]!;
    await d.getNetwork(nodesNet).disconnect({ Container: (await infra2.inspect()).Id, Force: true });

    // Services: the proxy stopped cleanly, the discovery service paused.
    await (await containerOf(instance, "proxy")).stop({ t: 20 });
    await (await containerOf(instance, "discovery")).pause();
    await watch.note();

    const r = await galley(["destroy", instance]);
    expect(r.code, `${r.stdout}${r.stderr}`).to.equal(0);
    console.log(`      destroy took ${r.ms} ms`);
    if (cgroupV1) expect(await hostCgroupsOf([besideId]), "after destroy").to.deep.equal([]);
    const left = await watch.leftovers();
    expect(left, `new on the host since the test began:\n${left.join("\n")}`).to.deep.equal([]);
  });
});

describe("leaks: every container Galley starts carries the project label", function () {
  let cache: string;
  const saved = process.env.GALLEY_CACHE;
  before(() => {
    cache = mkdtempSync(path.join(os.tmpdir(), "galley-e2e-probe-"));
    process.env.GALLEY_CACHE = cache; // nothing probed yet: the privileged probe runs
  });
  after(() => {
    if (saved === undefined) delete process.env.GALLEY_CACHE;
    else process.env.GALLEY_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  });

  it("the privileged probe, so a sweep finds it if a kill leaves it", async () => {
    const image = imageOf(loadBox(path.join(SHIPPED_BOXES, "debian-12")));
    const since = Math.floor(Date.now() / 1000) - 1;
    await systemdRecipe(image, "auto", labelsFor({ instance: "static-debian-12", root: repo }, "probe"));
    const until = Math.floor(Date.now() / 1000) + 1;
    const stream = await d.getEvents({ since, until, filters: { type: ["container"], event: ["create"], label: ["galley.probe"] } });
    const events: { Actor: { Attributes: Record<string, string> } }[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) events.push(JSON.parse(line));
    }
    expect(events, "probe containers created").to.not.be.empty;
    const ours = events.filter((e) => e.Actor.Attributes["galley.project"] === projectId(repo));
    expect(ours.map((e) => e.Actor.Attributes["galley.instance"]), "this checkout's probe, with its instance").to.deep.equal(["static-debian-12"]);
  });
});
