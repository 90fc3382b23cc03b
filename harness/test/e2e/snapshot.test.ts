// Snapshots on real Docker (fixtures/snapshot): a converged fleet cluster is snapshotted, broken (a key
// written, etcd stopped, an image tagged in a node's own Docker), restored, and is the snapshot's cluster
// again: same member ids and revision, no key, etcd healthy, the node's Docker as it was. Destructive suites run with
// isolate_destructive: snapshot each start from it (the second fails when they share one cluster, as
// shared.yml shows); destroy and prune leave no snapshot image, volume or container behind.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { projectId } from "../../src/drivers/docker/labels.ts";
import { galley, repo } from "./helpers.ts";

const dir = path.join(repo, "fixtures", "snapshot");
const config = path.join(dir, "galley.yml");
const instance = "snap-debian-12";
const run = (...args: string[]) => galley(["--config", config, ...args]);
const container = (inst: string, node: string) => `galley-${inst}-${node}-${projectId(dir)}`;

/** Runs a command in a node's container (the docker CLI: what a person would type). */
function sh(node: string, cmd: string): string {
  return execFileSync("docker", ["exec", container(instance, node), "sh", "-c", cmd], { encoding: "utf8" }).trim();
}

/** Everything of an instance Docker holds: containers, volumes and snapshot images, by name. */
async function resources(inst: string) {
  const d = new Docker();
  const filters = { label: [`galley.instance=${inst}`, `galley.project=${projectId(dir)}`] };
  const [containers, volumes, images] = await Promise.all([
    d.listContainers({ all: true, filters }),
    d.listVolumes({ filters }),
    d.listImages({ filters: { label: [...filters.label, "galley.snapshot"] } }),
  ]);
  return {
    containers: containers.map((c) => c.Names[0]!.slice(1)).sort(),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name).sort(),
    images: images.flatMap((i) => i.RepoTags ?? [i.Id]).sort(),
  };
}

const state = () => JSON.parse(readFileSync(path.join(dir, ".galley", instance, "state.json"), "utf8"));
/** etcd's v3 revision on infra0 (fleet writes only through v2: only a v3 write moves it). */
const revision = () => Number(JSON.parse(sh("infra0", "etcdctl endpoint status -w json"))[0].Status.header.revision);
const memberIds = () => (JSON.parse(sh("infra0", "etcdctl member list -w json")).members as { ID: number }[]).map((m) => String(m.ID)).sort();

describe("snapshots (fixtures/snapshot)", function () {
  after(async () => {
    await run("destroy", "all");
  });

  let before: Awaited<ReturnType<typeof resources>>;
  let ids: string[];
  let rev: number;
  let containers: Record<string, string>;

  it("snapshots a converged cluster: an image per node and a copy of each node's /var/lib/docker, recorded in the state", async () => {
    const c = await run("converge", instance);
    expect(c.code, c.stderr).to.equal(0);
    before = await resources(instance);
    expect(before.images, "snapshot images before the snapshot").to.deep.equal([]);
    const r = await run("snapshot", instance);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/✓ snapshot\s+snap-debian-12/);
    const now = await resources(instance);
    expect(now.images).to.deep.equal(["infra0", "infra1", "infra2"].map((n) => `galley-snapshot/${instance}-${n}-${projectId(dir)}:converged`));
    expect(now.volumes.filter((v) => v.includes("-snap-converged-"))).to.have.length(3);
    expect(now.containers, "no helper container left").to.deep.equal(before.containers);
    const s = state();
    expect(s.snapshots.converged.convergedAt, "the snapshot names its converge").to.equal(s.convergedAt).and.to.be.a("string");
    const listed = JSON.parse((await run("list", instance, "--json")).stdout) as { snapshots: string }[];
    expect(listed.map((l) => l.snapshots), "galley list").to.deep.equal(["converged"]);
    ids = memberIds();
    rev = revision();
    containers = Object.fromEntries(Object.entries(s.nodes as Record<string, { container: string }>).map(([n, b]) => [n, b.container]));
    expect(ids).to.have.length(3);
  });

  it("restores it: new boxes with the snapshot's etcd (same members, no key written since, healthy) and the node's own Docker as it was", async () => {
    sh("infra0", "etcdctl put galley/snapshot/after yes");
    sh("infra2", "systemctl stop etcd.service");
    sh("infra1", "docker tag busybox galley-damage:1");
    expect(sh("infra0", "etcdctl get --print-value-only galley/snapshot/after")).to.equal("yes");
    const r = await run("restore", instance);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/✓ restore\s+snap-debian-12/);
    const s = state();
    for (const n of ["infra0", "infra1", "infra2"]) expect(s.nodes[n].container, `${n}'s container was remade`).to.not.equal(containers[n]);
    expect(sh("infra2", "systemctl is-active etcd.service")).to.equal("active");
    expect(sh("infra0", "etcdctl get --print-value-only galley/snapshot/after"), "a key written after the snapshot").to.equal("");
    expect(sh("infra0", "etcdctl endpoint health --cluster 2>&1").match(/is healthy/g), "healthy members").to.have.length(3);
    expect(memberIds(), "etcd member ids").to.deep.equal(ids);
    expect(revision(), "etcd's revision: the snapshot's").to.equal(rev);
    const images = sh("infra1", "docker images --format '{{.Repository}}:{{.Tag}}' | sort");
    expect(images.split("\n"), "infra1's own Docker").to.deep.equal(["busybox:latest"]);
    expect(sh("infra1", "hostname")).to.equal("infra1");
    expect(s.snapshots.converged.restoredAt).to.be.a("string");
    expect(s.lastError).to.equal(undefined);
  });

  it("runs each destructive suite from the snapshot (isolate_destructive): the second passes although the first broke the cluster", async () => {
    const r = await run("verify", instance);
    expect(r.code, r.stderr).to.equal(0);
    // The first runs on the cluster just restored (nothing touched it since): only the second needs a restore.
    expect(r.stderr.match(/✓ restore \(before a destructive suite\) snap-debian-12/g), "restores").to.have.length(1);
    expect(r.stderr).to.match(/2 checks passed on snap-debian-12/);
  });

  it("without isolation (shared.yml) the same suites share one cluster, and the second fails on the first one's damage", async () => {
    const r = await galley(["--config", path.join(dir, "shared.yml"), "verify", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/✗ clean start starts from the snapshot/);
    expect(r.stderr).to.match(/etcd\.service on infra2.*expected 'inactive' to equal 'active'|galley\/snapshot\/damage: expected 'yes' to equal ''/);
  });

  it("destroy removes the snapshot's images and volumes with the boxes", async () => {
    const r = await run("destroy", instance);
    expect(r.code, r.stderr).to.equal(0);
    expect(await resources(instance)).to.deep.equal({ containers: [], volumes: [], images: [] });
  });

  it("prune removes them too, without state files", async () => {
    const inst = "snapprune-debian-12";
    expect((await run("create", inst)).code).to.equal(0);
    const r = await run("snapshot", inst, "mine");
    expect(r.code, r.stderr).to.equal(0);
    const made = await resources(inst);
    expect(made.images).to.have.length(1);
    expect(made.volumes, "the node's volume and its snapshot copy").to.have.length(2);
    execFileSync("rm", ["-rf", path.join(dir, ".galley", inst)]);
    const p = await run("prune");
    expect(p.code, p.stderr).to.equal(0);
    expect(p.stdout + p.stderr).to.match(/image galley-snapshot\/snapprune-debian-12-infra0-\w+:mine/);
    expect(await resources(inst)).to.deep.equal({ containers: [], volumes: [], images: [] });
  });
});
