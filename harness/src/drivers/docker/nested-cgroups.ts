// Docker inside a node, and the host's cgroups. Where a node shares the host's cgroup tree (cgroup v1,
// and v2 without real --privileged: cgroupns=host, /sys/fs/cgroup bound rw), the node's dockerd with its
// default cgroupfs driver makes its containers' cgroups at /sys/fs/cgroup/<controller>/docker/<id>,
// beside the host's own. Killing the node kills those containers but leaves their cgroup directories,
// one more per run. Two measures:
// - prevention: the node's dockerd uses the systemd cgroup driver, so its containers' cgroups sit inside
//   the node's own (…/docker/<node>/system.slice/docker-<id>.scope), which the host removes with the node;
// - clean-up: at destroy, directories left by containers a node's Docker made (ids read from the node's
//   /var/lib/docker volume) are removed: only those, never another container's.
import { readdirSync, rmdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { isNotFound } from "./client.ts";
import type { SystemdHostConfig } from "./systemd.ts";

export const INNER_DAEMON_CONFIG = { "exec-opts": ["native.cgroupdriver=systemd"] };

/** The node sees the host's cgroup tree, so cgroups its Docker makes by path land beside the host's. */
export function sharesHostCgroups(hostConfig: SystemdHostConfig): boolean {
  return hostConfig.CgroupnsMode === "host";
}

/**
 * Before first boot: gives the node's dockerd the systemd cgroup driver through /etc/docker/daemon.json,
 * unless the box has a daemon.json of its own (then the clean-up at destroy is what remains).
 */
export async function nestInnerDockerCgroups(container: Docker.Container): Promise<"configured" | "box has its own daemon.json"> {
  const has = await container.infoArchive({ path: "/etc/docker/daemon.json" }).then(
    () => true,
    (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
  );
  if (has) return "box has its own daemon.json";
  const json = `${JSON.stringify(INNER_DAEMON_CONFIG, null, 2)}\n`;
  await container.putArchive(tarOf([{ name: "etc/docker/", mode: 0o755 }, { name: "etc/docker/daemon.json", mode: 0o644, body: json }]), { path: "/" });
  return "configured";
}

/** A minimal ustar archive (directories and small files), enough for putArchive. */
export function tarOf(entries: { name: string; mode: number; body?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const h = Buffer.alloc(512);
    const put = (text: string, at: number, len: number) => h.write(text.slice(0, len), at, "ascii");
    const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0");
    put(e.name, 0, 100);
    put(octal(e.mode, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(body.length, 12), 124, 12);
    put(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
    h.fill(" ", 148, 156);
    put(e.name.endsWith("/") ? "5" : "0", 156, 1);
    put("ustar\u000000", 257, 8);
    put("root", 265, 32);
    put("root", 297, 32);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${octal(sum, 7)}\u0000 `, 148, 8);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * Ids of the containers a node's Docker made, from the node's /var/lib/docker volume. Empty when the
 * volume is not readable here (a remote daemon: its cgroups are not this machine's either).
 */
export function innerContainerIds(volumeMountpoint: string | undefined): string[] {
  if (!volumeMountpoint) return [];
  try {
    return readdirSync(path.join(volumeMountpoint, "containers")).filter((id) => /^[0-9a-f]{64}$/.test(id));
  } catch {
    return [];
  }
}

/** Every cgroup hierarchy mounted in this process's view ("/sys/fs/cgroup/memory", or "/sys/fs/cgroup" on v2). */
export function cgroupMounts(): string[] {
  let info = "";
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const mounts = info.split("\n").flatMap((l) => {
    const [pre, post] = l.split(" - ");
    const type = post?.split(" ")[0];
    const at = pre!.split(" ")[4]!;
    // Only the host's own: containers' bind mounts of /sys/fs/cgroup show up here too, under their rootfs.
    return (type === "cgroup" || type === "cgroup2") && (at === "/sys/fs/cgroup" || at.startsWith("/sys/fs/cgroup/")) ? [at] : [];
  });
  return [...new Set(mounts)];
}

/**
 * The host cgroup directories of these containers: one or two levels below each hierarchy's root,
 * named by the id ("docker/<id>" for the cgroupfs driver, "system.slice/docker-<id>.scope" for systemd).
 */
export function cgroupsOf(ids: string[], mounts = cgroupMounts()): string[] {
  if (!ids.length) return [];
  const wanted = new Set(ids);
  const idIn = (name: string) => /[0-9a-f]{64}/.exec(name)?.[0];
  const out: string[] = [];
  for (const mount of mounts) {
    for (const a of dirs(mount)) {
      const ida = idIn(a);
      if (ida) {
        if (wanted.has(ida)) out.push(path.join(mount, a));
        continue; // another container's tree: never look inside
      }
      for (const b of dirs(path.join(mount, a))) {
        const idb = idIn(b);
        if (idb && wanted.has(idb)) out.push(path.join(mount, a, b));
      }
    }
  }
  return out;
}

/**
 * Removes a cgroup directory and the cgroups below it, deepest first (a cgroup directory goes with
 * rmdir once it has no processes and no children). A cgroup whose last process just died can stay busy
 * for a moment: retried for up to `waitMs`.
 */
export async function removeCgroup(dir: string, waitMs = 2000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      removeTree(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if ((code === "EBUSY" || code === "ENOTEMPTY") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const procs = readProcs(dir);
      throw new Error(`${(err as Error).message}${procs.length ? ` (processes still in it: ${procs.slice(0, 5).join(", ")})` : ""}`);
    }
  }
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const child of dirs(dir)) removeTree(path.join(dir, child));
  rmdirSync(dir);
}

function readProcs(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

function dirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
