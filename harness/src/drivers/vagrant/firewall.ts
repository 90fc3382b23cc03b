// libvirt's firewall chains (LIBVIRT_INP, _OUT, _FWO, _FWI, _FWX in filter; LIBVIRT_PRT in nat and
// mangle; IPv4 and IPv6) and the jumps to them. libvirt adds them when its first network starts and
// never removes them, so Galley removes them once no libvirt network that needs them is active. But
// libvirtd makes them only once per run of the daemon: after Galley removed them, the next network it
// starts would fail. So before a create Galley puts back what is missing, exactly as libvirt lays
// them out (src/network/network_iptables.c: iptablesSetupPrivateChains).
import { must, runCommand } from "./command.ts";
import { virsh } from "./libvirt.ts";

const CHAINS: { table: string; parent: string; chain: string }[] = [
  { table: "filter", parent: "INPUT", chain: "LIBVIRT_INP" },
  { table: "filter", parent: "OUTPUT", chain: "LIBVIRT_OUT" },
  { table: "filter", parent: "FORWARD", chain: "LIBVIRT_FWO" },
  { table: "filter", parent: "FORWARD", chain: "LIBVIRT_FWI" },
  { table: "filter", parent: "FORWARD", chain: "LIBVIRT_FWX" },
  { table: "nat", parent: "POSTROUTING", chain: "LIBVIRT_PRT" },
  { table: "mangle", parent: "POSTROUTING", chain: "LIBVIRT_PRT" },
];
const TOOLS = ["iptables", "ip6tables"] as const;

/** `iptables -t TABLE -S` lines, or [] where the tool or table is unavailable. */
async function rules(tool: string, table: string): Promise<string[]> {
  const r = await runCommand(tool, ["-w", "-t", table, "-S"]);
  return r.code === 0 ? r.stdout.split("\n").filter(Boolean) : [];
}

/** The LIBVIRT_* chains present now, as `tool table chain (N rules)`: what a leak check lists. */
export async function libvirtChains(): Promise<string[]> {
  const out: string[] = [];
  for (const tool of TOOLS) {
    for (const table of ["filter", "nat", "mangle"]) {
      const lines = await rules(tool, table);
      for (const l of lines) {
        const m = /^-N (LIBVIRT_\w+)$/.exec(l);
        if (m) out.push(`${tool} ${table} ${m[1]} (${lines.filter((x) => x.startsWith(`-A ${m[1]} `)).length} rules)`);
      }
    }
  }
  return out;
}

/** Puts back libvirt's chains and jumps where missing (a no-op when libvirt's own set-up is in place). */
export async function ensureLibvirtChains(): Promise<void> {
  for (const tool of TOOLS) {
    for (const { table, parent, chain } of CHAINS) {
      const lines = await rules(tool, table);
      if (!lines.length) continue; // no such table for this tool here
      if (!lines.includes(`-N ${chain}`)) await must(tool, ["-w", "-t", table, "-N", chain]);
      if (!lines.includes(`-A ${parent} -j ${chain}`)) await must(tool, ["-w", "-t", table, "-I", parent, "-j", chain]);
    }
  }
}

/** Active libvirt networks whose forward mode makes libvirt add firewall rules (none, nat, route). */
export async function networksNeedingChains(): Promise<string[]> {
  const active = (await virsh(["net-list", "--name"])).stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  const needing: string[] = [];
  for (const n of active) {
    const xml = (await virsh(["net-dumpxml", n])).stdout;
    const mode = /<forward[^>]*mode=['"](\w+)['"]/.exec(xml)?.[1] ?? (/<forward/.test(xml) ? "nat" : "none");
    if (["none", "nat", "route"].includes(mode)) needing.push(n);
  }
  return needing;
}

/**
 * Removes libvirt's chains and the jumps to them, unless an active network still needs them. A chain
 * that still holds rules is left alone (something still uses it) and reported.
 */
export async function removeLibvirtChains(): Promise<{ removed: string[]; kept: string[] }> {
  const removed: string[] = [];
  const kept: string[] = [];
  const needing = await networksNeedingChains();
  if (needing.length) return { removed, kept: [`libvirt chains kept: networks ${needing.join(", ")} use them`] };
  for (const tool of TOOLS) {
    for (const { table, parent, chain } of CHAINS) {
      const lines = await rules(tool, table);
      if (!lines.includes(`-N ${chain}`)) continue;
      const own = lines.filter((l) => l.startsWith(`-A ${chain} `));
      if (own.length) {
        kept.push(`${tool} ${table} ${chain}: ${own.length} rules left`);
        continue;
      }
      // A jump may have been inserted more than once (libvirt restarted with the chains in place).
      while ((await runCommand(tool, ["-w", "-t", table, "-D", parent, "-j", chain])).code === 0);
      // The chain is still referenced from another table's parent? -X then fails; report it.
      const r = await runCommand(tool, ["-w", "-t", table, "-X", chain]);
      if (r.code === 0) removed.push(`${tool} ${table} ${chain}`);
      else kept.push(`${tool} ${table} ${chain}: ${r.stderr.trim()}`);
    }
  }
  return { removed, kept };
}
