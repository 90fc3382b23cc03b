// Snapshots of a Docker instance, so a suite can start from a clean converged cluster in seconds instead
// of converging again. Taking one freezes every box at once (docker pause: one moment for the whole
// cluster, as etcd's members must agree), commits each container to an image and copies each of its
// volumes (a node's own /var/lib/docker) into a snapshot volume, then thaws them. Restoring removes
// the boxes and their volumes and boots them again from those images, with fresh copies of the volumes,
// the same names, host names, addresses and networks, and waits until systemd booted and every enabled
// service that ran at the snapshot runs again. Images, volumes and helper containers carry the
// instance's labels (and galley.snapshot), so destroy and prune find them like everything else.
import type Docker from "dockerode";
import { ActionFailed, CommandFailed, commandFailure } from "../../errors.ts";
import type { InstancePlan } from "../../plan/plan.ts";
import type { InstanceState, NodeState } from "../../state/state-file.ts";
import { DockerExecTransport } from "../../transports/docker-exec.ts";
import type { Progress } from "../../util/ui.ts";
import type { DriverFacts, Snapshots } from "../driver.ts";
import { bootBox, dockerVolumeName, waitForBoot, type BootEnv } from "./boot.ts";
import { docker, isNotFound } from "./client.ts";
import { LABEL_NODE, LABEL_ROLE, LABEL_SNAPSHOT, labelsFor, ownerFilter, projectId, resourceName, type Owner } from "./labels.ts";
import { cgroupsOf, innerContainerIds, removeCgroup } from "./nested-cgroups.ts";
import { stopShapersFor } from "./netfaults.ts";
import { runHelper } from "./snapshot-helper.ts";
import { systemdRecipe } from "./systemd.ts";
import { waitForServices } from "./snapshot-ready.ts";

/** Image label: the enabled services that ran on the box when the snapshot was taken (restore waits for them). */
const LABEL_UNITS = "galley.snapshot.units";
/** Volume label: the box volume a snapshot volume is a copy of. */
const LABEL_COPY_OF = "galley.snapshot.of";

const SNAPSHOT_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

interface Box {
  name: string;
  role: "node" | "service";
  box: NodeState;
}

const ownerOf = (plan: InstancePlan): Owner => ({ instance: plan.name, root: plan.root });

/** galley-snapshot/<instance>-<box>-<project>:<name> */
export const snapshotImage = (owner: Owner, box: string, name: string): string =>
  `galley-snapshot/${owner.instance}-${box}-${projectId(owner.root)}:${name}`;

export function checkSnapshotName(name: string): void {
  if (!SNAPSHOT_NAME.test(name)) throw new ActionFailed(`snapshot name "${name}" is not valid: lower-case letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit`);
}

function boxesOf(state: InstanceState): Box[] {
  return [
    ...Object.entries(state.nodes).map(([name, box]) => ({ name, role: "node" as const, box })),
    ...Object.entries(state.services ?? {}).map(([name, box]) => ({ name, role: "service" as const, box })),
  ];
}

const snapshotFilter = (owner: Owner, name: string) => ({ label: [...ownerFilter(owner).label, `${LABEL_SNAPSHOT}=${name}`] });

export const dockerSnapshots: Snapshots = {
  async take(plan, state, name, progress) {
    checkSnapshotName(name);
    const d = await docker();
    const owner = ownerOf(plan);
    const boxes = boxesOf(state);
    if (!boxes.length) throw new ActionFailed(`cannot snapshot ${plan.name}: it has no boxes (create it first)`);
    const infos = await Promise.all(boxes.map(async (b) => {
      const info = await d.getContainer(b.box.container!).inspect().catch((err) => {
        throw new ActionFailed(`cannot snapshot ${plan.name}: ${b.role} ${b.name}'s container ${b.box.container?.slice(0, 12)} cannot be inspected: ${(err as Error).message}`);
      });
      if (!info.State.Running || info.State.Paused) {
        throw new ActionFailed(`cannot snapshot ${plan.name}: ${b.role} ${b.name}'s container ${info.Name.slice(1)} is ${info.State.Paused ? "paused" : info.State.Status}; a snapshot is of a running cluster`);
      }
      return info;
    }));
    progress("listing the services that run");
    const units = await Promise.all(boxes.map((b) => runningEnabledServices(b)));
    progress("removing an older snapshot of that name");
    await removeSnapshots(d, snapshotFilter(owner, name));

    const labels = labelsFor(owner, state.session ?? "none");
    const copies: { from: string; to: string }[] = [];
    progress(`freezing ${boxes.length} boxes`);
    const frozen: Docker.Container[] = [];
    try {
      // Every box at the same moment: members of one cluster must not be saved at different points.
      await Promise.all(boxes.map(async (b) => {
        const c = d.getContainer(b.box.container!);
        await c.pause();
        frozen.push(c);
      }));
      progress(`committing ${boxes.length} boxes and copying their volumes`);
      await Promise.all(boxes.map(async (b, i) => {
        const [repo, tag] = splitRef(snapshotImage(owner, b.name, name));
        await d.getContainer(b.box.container!).commit({
          repo,
          tag,
          pause: false,
          changes: [`LABEL ${LABEL_SNAPSHOT}=${JSON.stringify(name)}`, `LABEL ${LABEL_UNITS}=${JSON.stringify(units[i]!.join(" "))}`],
        }).catch((err: Error) => {
          throw new ActionFailed(`cannot snapshot ${b.role} ${b.name} of ${plan.name}: docker commit of ${infos[i]!.Name.slice(1)} failed: ${err.message}`);
        });
        const volumes = (infos[i]!.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name ? [m.Name] : []));
        for (const [k, volume] of volumes.entries()) {
          const copy = resourceName(owner, b.name, "snap", name, String(k));
          await d.createVolume({ Name: copy, Labels: { ...labels, [LABEL_NODE]: b.name, [LABEL_SNAPSHOT]: name, [LABEL_COPY_OF]: volume } });
          copies.push({ from: volume, to: copy });
        }
      }));
      if (copies.length) {
        const recipe = await systemdRecipe(infos[0]!.Image, plan.driver.privileged, labelsFor(owner, "probe"));
        await runHelper(d, { image: infos[0]!.Image, recipe, labels, copies, what: `snapshot ${name} of ${plan.name}` });
      }
    } finally {
      await Promise.all(frozen.map((c) => c.unpause().catch(() => {})));
    }
  },

  async restore(plan, state, name, { progress, record }) {
    checkSnapshotName(name);
    const d = await docker();
    const owner = ownerOf(plan);
    const images = await d.listImages({ filters: snapshotFilter(owner, name) });
    const imageOf = new Map<string, { ref: string; units: string[] }>();
    for (const img of images) {
      const box = img.Labels?.[LABEL_NODE];
      const ref = img.RepoTags?.find((t) => t.startsWith("galley-snapshot/"));
      if (box && ref) imageOf.set(box, { ref, units: (img.Labels?.[LABEL_UNITS] ?? "").split(" ").filter(Boolean) });
    }
    const boxes = boxesOf(state);
    const missing = boxes.filter((b) => !imageOf.has(b.name)).map((b) => b.name);
    if (!imageOf.size) throw new ActionFailed(`no snapshot ${name} of ${plan.name}: take one with \`galley snapshot ${plan.name} ${name}\``);
    if (missing.length) throw new ActionFailed(`snapshot ${name} of ${plan.name} has no image of ${missing.join(", ")} (it has ${[...imageOf.keys()].join(", ")}): take it again`);
    const copies = (await d.listVolumes({ filters: snapshotFilter(owner, name) })).Volumes ?? [];

    // Degraded links' shapers run on the host, attached to the old boxes: they go first.
    await stopShapersFor(`${projectId(plan.root)}/${plan.name}`);
    progress(`removing ${boxes.length} boxes`);
    await Promise.all(boxes.map((b) => removeBox(d, owner, b)));

    const session = state.session ?? "none";
    const labels = labelsFor(owner, session);
    const fills = copies.map((v) => ({ from: v.Name, to: v.Labels[LABEL_COPY_OF]!, box: v.Labels[LABEL_NODE]! }));
    if (fills.length) {
      progress(`copying ${fills.length} volumes from the snapshot`);
      for (const f of fills) {
        // A restore that failed halfway may have left this volume: a fresh copy starts empty.
        await d.getVolume(f.to).remove({ force: true }).catch((err) => {
          if (!isNotFound(err)) throw new ActionFailed(`restore: cannot remove ${f.box}'s volume ${f.to}: ${(err as Error).message}`);
        });
        await d.createVolume({ Name: f.to, Labels: { ...labels, [LABEL_NODE]: f.box, [LABEL_ROLE]: state.nodes[f.box] ? "node" : "service" } });
      }
    }
    const first = imageOf.values().next().value!.ref;
    const recipe = await systemdRecipe(first, plan.driver.privileged, labelsFor(owner, "probe"));
    if (fills.length) await runHelper(d, { image: first, recipe, labels, copies: fills, what: `restore of snapshot ${name} of ${plan.name}` });

    const networks: Record<string, string> = { nodes: state.network?.name ?? resourceName(owner) };
    for (const extra of plan.extraNetworks) networks[extra] = resourceName(owner, "net", extra);
    const facts: Required<Pick<DriverFacts, "nodes" | "services">> = { nodes: {}, services: {} };
    progress(`booting ${boxes.length} boxes from the snapshot`);
    const fresh: Box[] = [];
    await Promise.all(boxes.map(async (b) => {
      const env: BootEnv = { d, owner, image: imageOf.get(b.name)!.ref, recipe, labels, networks };
      const onNodes = b.role === "node" || plan.services[b.name]?.networks[0] === "nodes";
      const entry: NodeState = { ...b.box, container: "" };
      const { ip } = await bootBox(env, b.name, {
        role: b.role,
        networks: b.role === "node" ? ["nodes"] : plan.services[b.name]!.networks,
        address: onNodes && b.box.ip ? b.box.ip : undefined,
        dockerVolume: fills.some((f) => f.box === b.name && f.to === dockerVolumeName(owner, b.name)),
        fromSnapshot: true,
      }, {
        volume: () => {},
        container: (id) => {
          entry.container = id;
          (b.role === "node" ? facts.nodes : facts.services)[b.name] = entry;
          record({ nodes: { ...state.nodes, ...facts.nodes }, services: { ...state.services, ...facts.services } });
        },
      });
      entry.ip = ip;
      fresh.push({ ...b, box: entry });
    }));
    record({ nodes: { ...state.nodes, ...facts.nodes }, services: { ...state.services, ...facts.services } });
    progress(`waiting for systemd on ${boxes.length} boxes`);
    await Promise.all(fresh.map((b) => waitForBoot({ name: b.name, ...b.box }, plan.driver.bootTimeoutMs)));
    progress("waiting for the services that ran at the snapshot");
    await Promise.all(fresh.map((b) => waitForServices({ name: b.name, ...b.box }, imageOf.get(b.name)!.units, plan.driver.bootTimeoutMs)));
  },
};

/** Enabled services (unit files outside /run) running now: what a box must run again after a restore. */
async function runningEnabledServices(b: Box): Promise<string[]> {
  const conn = await new DockerExecTransport(30_000).connect({ name: b.name, ...b.box });
  try {
    const cmd = "for u in $(systemctl list-units --type=service --state=running --plain --no-legend | awk '{print $1}'); do " +
      '[ "$(systemctl is-enabled "$u" 2>/dev/null)" = enabled ] && echo "$u"; done; true';
    const r = await conn.exec(cmd);
    if (r.exitCode !== 0) throw new CommandFailed(commandFailure(b.name, "listing the running services for a snapshot", r));
    return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean).sort();
  } finally {
    await conn.close();
  }
}

/** Removes a box's container, the host cgroups its own Docker left, and its volumes. */
async function removeBox(d: Docker, owner: Owner, b: Box): Promise<void> {
  const where = `${b.role} ${b.name}`;
  const c = d.getContainer(b.box.container ?? resourceName(owner, b.name));
  const info = await c.inspect().catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
  const volumes = (info?.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name ? [m.Name] : []));
  const inner = (await Promise.all(volumes.map(async (v) => innerContainerIds((await d.getVolume(v).inspect()).Mountpoint)))).flat();
  // By id, then by name: a restore that failed halfway may have made a container the state does not name yet.
  for (const target of [c, d.getContainer(resourceName(owner, b.name))]) {
    await target.remove({ force: true, v: true }).catch((err) => {
      if (!isNotFound(err)) throw new ActionFailed(`restore: cannot remove ${where}'s container ${info?.Name.slice(1) ?? resourceName(owner, b.name)}: ${(err as Error).message}`);
    });
  }
  for (const dir of cgroupsOf(inner)) await removeCgroup(dir).catch(() => {});
  for (const v of volumes) {
    await d.getVolume(v).remove({ force: true }).catch((err) => {
      if (!isNotFound(err)) throw new ActionFailed(`restore: cannot remove ${where}'s volume ${v}: ${(err as Error).message}`);
    });
  }
}

/** Removes snapshot images and volumes (one snapshot, or all of a scope's). */
export async function removeSnapshots(d: Docker, filters: { label: string[] }): Promise<string[]> {
  const removed: string[] = [];
  for (const img of await d.listImages({ filters })) {
    await d.getImage(img.Id).remove({ force: true }).catch((err) => {
      if (!isNotFound(err)) throw new ActionFailed(`cannot remove snapshot image ${img.RepoTags?.[0] ?? img.Id}: ${(err as Error).message}`);
    });
    removed.push(`image ${img.RepoTags?.[0] ?? img.Id}`);
  }
  for (const v of (await d.listVolumes({ filters })).Volumes ?? []) {
    await d.getVolume(v.Name).remove({ force: true }).catch((err) => {
      if (!isNotFound(err)) throw new ActionFailed(`cannot remove snapshot volume ${v.Name}: ${(err as Error).message}`);
    });
    removed.push(`volume ${v.Name}`);
  }
  return removed;
}

function splitRef(ref: string): [string, string] {
  const i = ref.lastIndexOf(":");
  return [ref.slice(0, i), ref.slice(i + 1)];
}
