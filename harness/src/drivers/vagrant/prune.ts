// Everything the Vagrant driver leaves when it is done with an instance, or (prune) with all of them:
// libvirt domains, volumes and networks by name, then what instances share when none uses it any more
// (the storage pool with its box volumes and kernels, QEMU's folder, libvirt's firewall chains), and
// Vagrant's machine index entries for machines that no longer exist.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { removeLibvirtChains } from "./firewall.ts";
import { ensureLibvirtd, lockHost } from "./host.ts";
import { removeByPrefix, removeSharedWhenUnused, virshMaybe, type RemovalReport } from "./libvirt.ts";
import { GALLEY_PREFIX } from "./names.ts";
import { vagrantHome, vagrantMaybe } from "./vagrant.ts";

/**
 * The shared things, if no create is under way (the host lock is free) and no Galley domain is left.
 * With the lock taken, the process holding it (a create) leaves them to its own destroy.
 */
export async function cleanUpShared(report: RemovalReport): Promise<void> {
  const release = await lockHost({ wait: false });
  if (!release) return;
  try {
    await removeSharedWhenUnused(report);
    const chains = await removeLibvirtChains();
    report.removed.push(...chains.removed.map((c) => `chain ${c}`));
    // A chain kept because a (non-Galley) network needs it is not a failure; one with rules left is listed.
    for (const k of chains.kept.filter((k) => !k.startsWith("libvirt chains kept"))) report.failures.push({ resource: "firewall", reason: k });
  } finally {
    await release();
  }
}

/** Drops Vagrant's machine index entries for machines under `dir` (their Vagrantfile and .vagrant are gone). */
export async function forgetMachines(dir: string): Promise<void> {
  const index = path.join(vagrantHome(), "data", "machine-index", "index");
  if (!existsSync(index)) return;
  let text: string;
  try {
    text = readFileSync(index, "utf8");
  } catch {
    return;
  }
  // `global-status --prune` drops every entry whose machine is gone (about 2 s of Ruby): only when needed.
  if (text.includes(JSON.stringify(dir).slice(1, -1))) await vagrantMaybe(["global-status", "--prune"]);
}

/**
 * `galley prune` for VMs: every Galley domain, volume and network whose name starts with `prefix`
 * (default: any checkout's), then the shared things when no Galley VM is left.
 */
export async function pruneVagrant(prefix = GALLEY_PREFIX): Promise<RemovalReport> {
  const report: RemovalReport = { removed: [], failures: [] };
  const virshThere = await virshMaybe(["--version"]).then(() => true, () => false);
  if (virshThere) {
    await ensureLibvirtd();
    await removeByPrefix(prefix, report);
    await cleanUpShared(report);
  }
  if (existsSync(path.join(vagrantHome(), "data", "machine-index", "index"))) await vagrantMaybe(["global-status", "--prune"]).catch(() => {});
  return report;
}
