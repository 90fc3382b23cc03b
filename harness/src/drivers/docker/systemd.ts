// What a systemd box needs from Docker, chosen from what this host allows (probed once per daemon and
// cached): real --privileged where it works; otherwise every capability the host can grant, unconfined
// seccomp/AppArmor and the host's cgroup tree. cgroup v1 and v2 differ in the cgroup namespace.
// Which capabilities the host can grant: for an engine on this machine, this process's bounding set;
// for another (a mounted or forwarded socket), the engine itself is asked (refusedCapabilities).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { cacheDir } from "../../util/cache.ts";
import { dockerHost } from "./client.ts";

export interface SystemdRecipe {
  mode: "privileged" | "capabilities";
  cgroupVersion: "1" | "2";
  capDrop: string[];
}

export const CAPS = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
  "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
  "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
  "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
  "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
  "CHECKPOINT_RESTORE",
];

/** Capabilities missing from this process's bounding set: a local daemon cannot grant them either. */
function missingCapabilities(): string[] {
  try {
    const hex = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (!hex) return [];
    const mask = BigInt(`0x${hex}`);
    return CAPS.filter((_, bit) => (mask & (1n << BigInt(bit))) === 0n);
  } catch {
    return [];
  }
}

// CgroupnsMode is in the Engine API (1.41+) but not in @types/dockerode.
export type SystemdHostConfig = Docker.HostConfig & { CgroupnsMode?: "host" | "private" };

export function hostConfigFor(recipe: SystemdRecipe): SystemdHostConfig {
  const common: SystemdHostConfig = {
    Tmpfs: { "/run": "rw,exec,mode=755", "/run/lock": "rw,mode=1777", "/tmp": "rw,exec,mode=1777" },
    SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
  };
  if (recipe.mode === "privileged") {
    // v2: a private cgroup namespace is writable under --privileged; v1: the host tree, bound rw.
    return recipe.cgroupVersion === "2"
      ? { ...common, Privileged: true, CgroupnsMode: "private" }
      : { ...common, Privileged: true, CgroupnsMode: "host", Binds: ["/sys/fs/cgroup:/sys/fs/cgroup:rw"] };
  }
  return {
    ...common,
    CapAdd: ["ALL"],
    CapDrop: recipe.capDrop,
    CgroupnsMode: "host",
    Binds: ["/sys/fs/cgroup:/sys/fs/cgroup:rw"],
  };
}

const memo = new Map<string, Promise<SystemdRecipe>>();

/** `labels`: the probe container carries the caller's project and instance, so a sweep finds it if a kill leaves it. */
export async function systemdRecipe(image: string, override: boolean | "auto" | undefined, labels: Record<string, string>): Promise<SystemdRecipe> {
  const { client: d, info, local } = await dockerHost();
  const cgroupVersion: "1" | "2" = info.CgroupVersion === "2" ? "2" : "1";
  if (override === true) return { mode: "privileged", cgroupVersion, capDrop: [] };
  const key = `${info.ID}-${cgroupVersion}${override === false ? "-capabilities" : ""}`;
  let found = memo.get(key);
  if (!found) {
    found = probe(d, image, key, { cgroupVersion, local, tryPrivileged: override !== false }, labels);
    memo.set(key, found);
  }
  return found;
}

/** What an earlier run probed for this engine (cached per daemon id and cgroup version), if anything. */
export function probedRecipe(daemonId: string, cgroupVersion: "1" | "2"): SystemdRecipe | undefined {
  try {
    return JSON.parse(readFileSync(recipeCacheFile(`${daemonId}-${cgroupVersion}`), "utf8")) as SystemdRecipe;
  } catch {
    return undefined;
  }
}

const recipeCacheFile = (key: string) => cacheDir("hosts", `${key.replace(/[^a-zA-Z0-9-]/g, "_")}.json`);

async function probe(
  d: Docker,
  image: string,
  key: string,
  host: { cgroupVersion: "1" | "2"; local: boolean; tryPrivileged: boolean },
  labels: Record<string, string>,
): Promise<SystemdRecipe> {
  const cacheFile = recipeCacheFile(key);
  try {
    return JSON.parse(readFileSync(cacheFile, "utf8")) as SystemdRecipe;
  } catch {
    /* not probed yet */
  }
  const privileged: SystemdRecipe = { mode: "privileged", cgroupVersion: host.cgroupVersion, capDrop: [] };
  const unknown = new Set<string>();
  const starts = (hostConfig: SystemdHostConfig) => startsWith(d, image, labels, hostConfig, unknown);
  let recipe: SystemdRecipe;
  if (host.tryPrivileged && (await starts(hostConfigFor(privileged)))) {
    recipe = privileged;
  } else {
    // e.g. "unable to apply caps: operation not permitted" in a sandbox without every capability. A local
    // engine cannot grant what this process's bounding set lacks; a remote one (a socket mounted into a
    // container, a forwarded port) is asked: which capabilities does it refuse?
    const capDrop = host.local ? missingCapabilities() : (await refusedCapabilities(CAPS, (caps) => starts({ CapAdd: caps }))).filter((c) => !unknown.has(c));
    recipe = { mode: "capabilities", cgroupVersion: host.cgroupVersion, capDrop };
  }
  mkdirSync(path.dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify(recipe));
  return recipe;
}

/** Whether a throwaway container with these settings starts (and runs /bin/true). */
async function startsWith(d: Docker, image: string, labels: Record<string, string>, hostConfig: SystemdHostConfig, unknown?: Set<string>): Promise<boolean> {
  let c: Docker.Container | undefined;
  try {
    c = await d.createContainer({
      Image: image,
      Cmd: ["/bin/true"],
      Labels: { ...labels, "galley.probe": "systemd-recipe" },
      HostConfig: { ...hostConfig, AutoRemove: false },
    });
    await c.start();
    await c.wait();
    return true;
  } catch (err) {
    const message = (err as Error).message;
    // An older engine does not know every capability ("invalid CapAdd: unknown capability: "CAP_PERFMON""):
    // its ALL does not include it either, so it is not one to drop.
    const named = /unknown capability:?\s*"?(?:CAP_)?([A-Z_]+)/.exec(message)?.[1];
    if (named) {
      unknown?.add(named);
      return false;
    }
    if (/caps|capabilit|operation not permitted|privileged/i.test(message)) return false;
    throw err;
  } finally {
    await c?.remove({ force: true, v: true }).catch(() => {});
  }
}

/**
 * The capabilities an engine refuses to grant, by halving: a set is granted when none of it is refused,
 * so a refused set is split until single capabilities remain (about 2·log2(41) starts per refused one).
 */
export async function refusedCapabilities(caps: string[], granted: (caps: string[]) => Promise<boolean>): Promise<string[]> {
  if (!caps.length || (await granted(caps))) return [];
  if (caps.length === 1) return caps;
  const half = Math.ceil(caps.length / 2);
  return [...(await refusedCapabilities(caps.slice(0, half), granted)), ...(await refusedCapabilities(caps.slice(half), granted))];
}
