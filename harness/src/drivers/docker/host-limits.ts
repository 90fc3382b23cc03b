// Host limits that many systemd boxes run into. Every systemd (and journald, logind, dbus) in a node
// takes inotify instances from the host's per-user budget (fs.inotify.max_user_instances, 128 by
// default, shared by every container of the same uid); when it runs out, path units fail at boot and
// nodes come up "degraded" for no reason a user could guess. Checked before booting, with the fix.
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { EnvironmentError } from "../../errors.ts";

/** Measured here: a booted Debian 12 node holds about 7 inotify instances. */
export const INOTIFY_PER_BOX = 8;
/** What `galley setup` raises the limit to (and what the fix says): 16 nodes × 8 and room for the rest. */
export const INOTIFY_WANTED = 1024;
export const readInotifyLimit = (): number => Number(readFileSync("/proc/sys/fs/inotify/max_user_instances", "utf8").trim());
/** `galley setup`: raises the limit now and for every boot after (as root). */
export function raiseInotifyLimit(): void {
  writeFileSync("/proc/sys/fs/inotify/max_user_instances", `${INOTIFY_WANTED}\n`);
  mkdirSync("/etc/sysctl.d", { recursive: true });
  writeFileSync("/etc/sysctl.d/60-galley-inotify.conf", `# galley setup: every systemd node takes about ${INOTIFY_PER_BOX} inotify instances\nfs.inotify.max_user_instances = ${INOTIFY_WANTED}\n`);
}

/** A limit this far above what the boxes need leaves room for everything else: no need to count. */
const ROOMY = 512;

function inotifyInUse(): number {
  let n = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === "anon_inode:inotify") n++;
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return n;
}

/**
 * Fails before anything is created when `boxes` more systemd boxes would exhaust the host's inotify
 * instances. Only meaningful for a local daemon (the containers' processes are visible in /proc).
 */
export function checkInotifyBudget(boxes: number, read: { limit(): number; inUse(): number } = {
  limit: readInotifyLimit,
  inUse: inotifyInUse,
}): void {
  let limit: number;
  try {
    limit = read.limit();
  } catch {
    return; // not Linux, or no /proc: nothing to check
  }
  const needed = boxes * INOTIFY_PER_BOX;
  // Counting what is in use reads every process's fds (a few hundred ms): only when it could matter.
  if (limit >= needed + ROOMY) return;
  const free = limit - read.inUse();
  if (free < needed) {
    throw new EnvironmentError(
      `this host has ${Math.max(0, free)} of ${limit} inotify instances free (fs.inotify.max_user_instances), and ${boxes} systemd boxes need about ${needed}: ` +
        `they would boot "degraded". Raise the limit: \`sudo sysctl -w fs.inotify.max_user_instances=1024\` ` +
        `(and add fs.inotify.max_user_instances=1024 to /etc/sysctl.d/ to keep it), or run fewer instances at once.`,
    );
  }
}
