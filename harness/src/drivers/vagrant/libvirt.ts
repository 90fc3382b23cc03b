// libvirt through virsh: Galley's storage pool and files QEMU must read, listing and removing an
// instance's domains, volumes and networks, and the LIBVIRT_* firewall chains libvirt leaves behind.
// QEMU runs as its own user (libvirt-qemu), which cannot read ~/.cache: whatever it opens (disks,
// kernel, initrd, the emulator wrapper, console logs) lives under one folder of its own.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ActionFailed } from "../../errors.ts";
import { must, runCommand, type CommandResult } from "./command.ts";
import { LIBVIRT_URI } from "./host.ts";
import { isGalleyName } from "./names.ts";

export const POOL = "galley";

/** Everything QEMU opens; removed when the last Galley domain is gone. GALLEY_LIBVIRT_DIR moves it. */
export function libvirtDir(...parts: string[]): string {
  return path.join(process.env.GALLEY_LIBVIRT_DIR ?? "/var/lib/libvirt/galley", ...parts);
}
export const poolDir = () => libvirtDir("pool");
export const consoleDir = () => libvirtDir("console");
export const tcgEmulator = () => libvirtDir("qemu-system-x86_64-tcg");

export function virsh(args: string[], what?: string): Promise<CommandResult> {
  return must("virsh", ["-c", LIBVIRT_URI, ...args], { what, error: ActionFailed, timeoutMs: 120_000 });
}

export function virshMaybe(args: string[]): Promise<CommandResult> {
  return runCommand("virsh", ["-c", LIBVIRT_URI, ...args], { timeoutMs: 120_000 });
}

const names = (out: string) => out.split("\n").map((l) => l.trim()).filter(Boolean);

export async function listDomains(): Promise<string[]> {
  return names((await virsh(["list", "--all", "--name"])).stdout);
}

export async function listNetworks(): Promise<string[]> {
  return names((await virsh(["net-list", "--all", "--name"])).stdout);
}

export async function poolExists(): Promise<boolean> {
  return (await virshMaybe(["pool-info", POOL])).code === 0;
}

export async function listVolumes(): Promise<string[]> {
  if (!(await poolExists())) return [];
  await virshMaybe(["pool-refresh", POOL]);
  return names((await virsh(["vol-list", POOL, "--details"])).stdout)
    .slice(2) // header and dashes
    .map((l) => l.split(/\s+/)[0]!)
    .filter(Boolean);
}

/** `running`, `shut off`, … or undefined when the domain does not exist. */
export async function domainState(domain: string): Promise<string | undefined> {
  const r = await virshMaybe(["domstate", domain]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** MAC of the domain's interface on `network` (what domif-setlink takes, stable across restarts). */
export async function interfaceOn(domain: string, network: string): Promise<string> {
  const rows = names((await virsh(["domiflist", domain])).stdout).slice(2).map((l) => l.split(/\s+/));
  const row = rows.find((r) => r[2] === network);
  if (!row) throw new ActionFailed(`domain ${domain} has no interface on network ${network} (interfaces: ${rows.map((r) => `${r[4]} on ${r[2]}`).join(", ") || "none"})`);
  return row[4]!;
}

/** The pool, the TCG wrapper and the console folder, made once and shared by every instance. */
export async function ensureLibvirtFiles(): Promise<void> {
  for (const dir of [libvirtDir(), poolDir(), consoleDir()]) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
  }
  if (!(await poolExists())) {
    await virsh(["pool-define-as", POOL, "dir", "--target", poolDir()], "defining Galley's storage pool");
  }
  if (!/^State:\s+running/m.test((await virsh(["pool-info", POOL])).stdout)) await virsh(["pool-start", POOL]);
  // QEMU's TCG translation cache defaults to 1 GiB per VM, which made a 512 MB VM 1.48 GB resident;
  // libvirt has no setting for it that vagrant-libvirt can reach, so the emulator is this wrapper.
  const wrapper = [
    "#!/bin/sh",
    "# Written by Galley: QEMU with a 128 MiB TCG translation cache instead of 1 GiB.",
    'for a in "$@"; do shift; if [ "$a" = tcg ]; then a=tcg,tb-size=128; fi; set -- "$@" "$a"; done',
    'exec /usr/bin/qemu-system-x86_64 "$@"',
    "",
  ].join("\n");
  // Rewritten only when it changed: libvirt probes an emulator again whenever its file changes.
  if (!existsSync(tcgEmulator()) || readFileSync(tcgEmulator(), "utf8") !== wrapper) writeFileSync(tcgEmulator(), wrapper, { mode: 0o755 });
}

/** Puts a host file into the pool (QEMU-readable) as volume `name`, unless it is there already. */
export async function ensurePoolFile(name: string, source: string): Promise<string> {
  const target = path.join(poolDir(), name);
  if (!existsSync(target)) {
    await must("cp", ["--sparse=always", source, `${target}.tmp`]);
    await must("mv", [`${target}.tmp`, target]);
    chmodSync(target, 0o644);
    await virshMaybe(["pool-refresh", POOL]);
  }
  return target;
}

export interface RemovalReport {
  removed: string[];
  failures: { resource: string; reason: string }[];
}

/**
 * Removes the domains, volumes and networks whose names start with `prefix` (one instance's, or
 * every Galley object with GALLEY_PREFIX), and their console logs. Domains go first: a running
 * domain holds its volumes and networks.
 */
export async function removeByPrefix(prefix: string, report: RemovalReport): Promise<void> {
  const mine = (n: string) => n.startsWith(prefix) && isGalleyName(n);
  const attempt = async (resource: string, steps: string[][]) => {
    for (const args of steps) {
      const r = await virshMaybe(args);
      if (r.code !== 0 && !/not found|no domain|no network|no storage vol|not running|is not active/i.test(r.stderr)) {
        report.failures.push({ resource, reason: `virsh ${args.join(" ")}: ${r.stderr.trim() || `exit ${r.code}`}` });
        return;
      }
    }
    report.removed.push(resource);
  };
  for (const d of (await listDomains()).filter(mine)) {
    await attempt(`domain ${d}`, [["destroy", d], ["undefine", d, "--managed-save", "--snapshots-metadata", "--nvram"]]);
  }
  for (const v of (await listVolumes()).filter(mine)) await attempt(`volume ${POOL}/${v}`, [["vol-delete", v, "--pool", POOL]]);
  for (const n of (await listNetworks()).filter(mine)) await attempt(`network ${n}`, [["net-destroy", n], ["net-undefine", n]]);
  // Console logs, and libvirt's own log of each domain's QEMU (kept by libvirt after the domain is gone).
  for (const dir of [consoleDir(), QEMU_LOG_DIR]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter(mine)) rmSync(path.join(dir, f), { force: true });
  }
}

const QEMU_LOG_DIR = "/var/log/libvirt/qemu";

/**
 * When no Galley domain is left (any checkout): every volume of Galley's pool (box images, kernels),
 * the pool and the folder QEMU read from. Call with the host lock held, so no create is under way.
 */
export async function removeSharedWhenUnused(report: RemovalReport): Promise<void> {
  if ((await listDomains()).some(isGalleyName)) return;
  if (await poolExists()) {
    for (const v of await listVolumes()) {
      const r = await virshMaybe(["vol-delete", v, "--pool", POOL]);
      if (r.code === 0) report.removed.push(`volume ${POOL}/${v}`);
      else report.failures.push({ resource: `volume ${POOL}/${v}`, reason: r.stderr.trim() });
    }
    await virshMaybe(["pool-destroy", POOL]);
    const r = await virshMaybe(["pool-undefine", POOL]);
    if (r.code === 0) report.removed.push(`pool ${POOL}`);
    else report.failures.push({ resource: `pool ${POOL}`, reason: r.stderr.trim() });
  }
  if (existsSync(libvirtDir())) {
    rmSync(libvirtDir(), { recursive: true, force: true });
    report.removed.push(`folder ${libvirtDir()}`);
  }
  // libvirt keeps what it probed of every emulator it ran, the TCG wrapper too.
  for (const f of probedCapabilitiesOf(tcgEmulator())) {
    rmSync(f, { force: true });
    report.removed.push(`file ${f}`);
  }
}

/** libvirt's cached capability probes (/var/cache/libvirt/qemu/capabilities/*.xml) of one emulator. */
export function probedCapabilitiesOf(emulator: string): string[] {
  const dir = "/var/cache/libvirt/qemu/capabilities";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".xml"))
    .map((f) => path.join(dir, f))
    .filter((f) => {
      try {
        return readFileSync(f, "utf8").includes(`<emulator>${emulator}</emulator>`);
      } catch {
        return false;
      }
    });
}
