// The sweep: removes every container, network and volume labelled for an instance (or everything
// Galley made), whatever state a fault or a user left them in, its snapshot images, and the host
// cgroups its nodes' own Docker left behind. It never stops at the first failure: it removes what it can and reports each
// resource it could not remove, with Docker's reason.
import type Docker from "dockerode";
import { isNotFound } from "./client.ts";
import { LABEL_SNAPSHOT, ownerFilter, type Scope } from "./labels.ts";
import { cgroupsOf, innerContainerIds, removeCgroup } from "./nested-cgroups.ts";

/** The parts of the Docker client the sweep uses (a fake one in unit tests). */
export type SweepClient = Pick<Docker, "listContainers" | "getContainer" | "listNetworks" | "getNetwork" | "listVolumes" | "getVolume" | "listImages" | "getImage">;

export interface SweepFailure {
  /** "container galley-static-debian-12-infra0-1a2b3c", "network …", "volume …", "cgroup /sys/fs/cgroup/…". */
  resource: string;
  reason: string;
}

export interface SweepReport {
  containers: string[];
  networks: string[];
  volumes: string[];
  /** Snapshot images (galley-snapshot/…). */
  images: string[];
  cgroups: string[];
  failures: SweepFailure[];
}

export interface SweepOptions {
  /** Upper bound for one Docker call (a daemon that stops answering must not hang destroy). */
  callTimeoutMs?: number;
  /** Where the host's cgroup hierarchies are mounted (default: read from /proc/self/mountinfo). */
  cgroupMounts?: string[];
}

export async function sweep(owner: Scope, d: SweepClient, o: SweepOptions = {}): Promise<SweepReport> {
  const timeoutMs = o.callTimeoutMs ?? 60_000;
  const filters = ownerFilter(owner);
  const report: SweepReport = { containers: [], networks: [], volumes: [], images: [], cgroups: [], failures: [] };
  const fail = (resource: string, err: unknown) => report.failures.push({ resource, reason: reasonOf(err) });
  const call = <T>(what: string, p: Promise<T>) => withTimeout(p, timeoutMs, what);

  const list = async <T>(what: string, f: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await call(`listing ${what}`, f());
    } catch (err) {
      fail(`${what} (listing)`, err);
      return [];
    }
  };
  const containers = await list("containers", () => d.listContainers({ all: true, filters }));
  const volumes = await list("volumes", async () => (await d.listVolumes({ filters })).Volumes ?? []);

  // Read before the volumes go: which containers each node's own Docker made.
  const innerIds = new Map(volumes.map((v) => [v.Name, innerContainerIds(v.Mountpoint)]));
  const volumesOf = new Map(containers.map((c) => [c.Id, (c.Mounts ?? []).flatMap((m) => (m.Type === "volume" && m.Name ? [m.Name] : []))]));

  // Containers first, in parallel: force removes running, paused, stopped and dead ones alike; v drops
  // their anonymous volumes.
  const removedContainers = new Set<string>();
  await Promise.all(containers.map(async (c) => {
    const name = `container ${c.Names?.[0]?.replace(/^\//, "") ?? c.Id}`;
    try {
      await removeContainer(d, c.Id, call, name);
      removedContainers.add(c.Id);
      report.containers.push(name.slice("container ".length));
    } catch (err) {
      fail(name, err);
    }
  }));

  // Cgroups the nodes' Docker left on the host, once the node (and so every process in them) is gone.
  // A volume no removed container used (a node whose removal failed) keeps its cgroups: still in use.
  const inUse = new Set(containers.filter((c) => !removedContainers.has(c.Id)).flatMap((c) => volumesOf.get(c.Id) ?? []));
  const ids = [...innerIds.entries()].filter(([v]) => !inUse.has(v)).flatMap(([, list]) => list);
  for (const dir of cgroupsOf(ids, o.cgroupMounts)) {
    try {
      await removeCgroup(dir);
      report.cgroups.push(dir);
    } catch (err) {
      fail(`cgroup ${dir}`, err);
    }
  }

  const networks = await list("networks", () => d.listNetworks({ filters }));
  await Promise.all(networks.map(async (n) => {
    try {
      await removeNetwork(d, n.Id, call);
      report.networks.push(n.Name);
    } catch (err) {
      fail(`network ${n.Name}`, err);
    }
  }));

  await Promise.all(volumes.map(async (v) => {
    try {
      await call(`removing volume ${v.Name}`, d.getVolume(v.Name).remove({ force: true })).catch(ignoreNotFound);
      report.volumes.push(v.Name);
    } catch (err) {
      fail(`volume ${v.Name}`, err); // "volume is in use - [container id]" from Docker names the user

    }
  }));

  // Snapshot images, once no container of theirs is left (restored boxes run from them).
  const images = await list("snapshot images", () => d.listImages({ filters: { label: [...filters.label, LABEL_SNAPSHOT] } }));
  await Promise.all(images.map(async (img) => {
    const name = img.RepoTags?.find((t) => !t.startsWith("<none>")) ?? img.Id;
    try {
      await call(`removing image ${name}`, d.getImage(img.Id).remove({ force: true })).catch(ignoreNotFound);
      report.images.push(name);
    } catch (err) {
      fail(`image ${name}`, err);
    }
  }));
  return report;
}

/** "container x: why" lines, for an error message. */
export function failureLines(failures: SweepFailure[]): string {
  return failures.map((f) => `  ${f.resource}: ${f.reason}`).join("\n");
}

type Call = <T>(what: string, p: Promise<T>) => Promise<T>;

async function removeContainer(d: SweepClient, id: string, call: Call, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call(`removing ${name}`, d.getContainer(id).remove({ force: true, v: true }));
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      // Another removal (a second galley, a user) is under way: wait for it rather than fail.
      if (attempt < 20 && /already in progress/i.test(reasonOf(err))) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      throw err;
    }
  }
}

/**
 * Removes a network; when something not ours is still attached (a user's `docker network connect`),
 * disconnects it first. The container itself stays.
 */
async function removeNetwork(d: SweepClient, id: string, call: Call): Promise<void> {
  const net = d.getNetwork(id);
  try {
    await call(`removing network ${id}`, net.remove());
    return;
  } catch (err) {
    if (isNotFound(err)) return;
    if (!/active endpoints/i.test(reasonOf(err))) throw err;
  }
  const info = (await call(`inspecting network ${id}`, net.inspect())) as { Containers?: Record<string, { Name?: string }> };
  for (const container of Object.keys(info.Containers ?? {})) {
    await call(`disconnecting ${container}`, net.disconnect({ Container: container, Force: true })).catch(ignoreNotFound);
  }
  await call(`removing network ${id}`, net.remove()).catch(ignoreNotFound);
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/** Docker's own message ("(HTTP code 409) conflict - …"), or what the call did not do in time. */
function reasonOf(err: unknown): string {
  const e = err as { json?: { message?: string }; statusCode?: number; message?: string };
  const msg = e.json?.message ?? e.message ?? String(err);
  return e.statusCode ? `${msg} (HTTP ${e.statusCode})` : msg;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Docker did not answer ${what} within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
