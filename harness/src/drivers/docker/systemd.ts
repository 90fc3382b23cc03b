// What a systemd box needs from Docker, chosen from what this host allows (probed once per daemon and
// cached): real --privileged where it works; otherwise every capability the host can grant, unconfined
// seccomp/AppArmor and the host's cgroup tree. cgroup v1 and v2 differ in the cgroup namespace.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { cacheDir } from "../../util/cache.ts";
import { docker } from "./client.ts";

export interface SystemdRecipe {
  mode: "privileged" | "capabilities";
  cgroupVersion: "1" | "2";
  capDrop: string[];
}

const CAPS = [
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
  const d = await docker();
  const info = await d.info();
  const cgroupVersion: "1" | "2" = info.CgroupVersion === "2" ? "2" : "1";
  const fallback: SystemdRecipe = { mode: "capabilities", cgroupVersion, capDrop: missingCapabilities() };
  if (override === false) return fallback;
  if (override === true) return { mode: "privileged", cgroupVersion, capDrop: [] };
  const key = `${info.ID}-${cgroupVersion}`;
  let found = memo.get(key);
  if (!found) {
    found = probe(d, image, key, cgroupVersion, fallback, labels);
    memo.set(key, found);
  }
  return found;
}

async function probe(
  d: Docker,
  image: string,
  key: string,
  cgroupVersion: "1" | "2",
  fallback: SystemdRecipe,
  labels: Record<string, string>,
): Promise<SystemdRecipe> {
  const cacheFile = cacheDir("hosts", `${key.replace(/[^a-zA-Z0-9-]/g, "_")}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, "utf8")) as SystemdRecipe;
  } catch {
    /* not probed yet */
  }
  const privileged: SystemdRecipe = { mode: "privileged", cgroupVersion, capDrop: [] };
  let recipe = fallback;
  const c = await d.createContainer({
    Image: image,
    Cmd: ["/bin/true"],
    Labels: { ...labels, "galley.probe": "privileged" },
    HostConfig: { ...hostConfigFor(privileged), AutoRemove: false },
  });
  try {
    await c.start();
    await c.wait();
    recipe = privileged;
  } catch {
    // e.g. "unable to apply caps: operation not permitted" in a sandbox without every capability.
  } finally {
    await c.remove({ force: true, v: true }).catch(() => {});
  }
  mkdirSync(path.dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify(recipe));
  return recipe;
}
