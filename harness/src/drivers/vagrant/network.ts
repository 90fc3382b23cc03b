// Address plan of an instance's two libvirt networks: a management network (DHCP; Vagrant's and
// Galley's SSH go through it, so a node cut off from its peers can still be reached) and the nodes'
// own network (fixed addresses, what the provisioning and the suites see as the node's address).
// Both are /24s in 10.0.0.0/8 that no route, interface or libvirt network of the host uses yet.
import { createHash } from "node:crypto";
import { runCommand } from "./command.ts";
import { virsh } from "./libvirt.ts";

export const NETMASK = "255.255.255.0";

/** The /24s ("10.a.b") the host already uses: interface addresses, routes, libvirt networks. */
export async function usedSubnets(): Promise<Set<string>> {
  const used = new Set<string>();
  const add = (text: string) => {
    for (const m of text.matchAll(/\b10\.(\d+)\.(\d+)\.\d+/g)) used.add(`10.${m[1]}.${m[2]}`);
  };
  add((await runCommand("ip", ["-4", "-o", "addr"])).stdout);
  add((await runCommand("ip", ["-4", "route"])).stdout);
  const nets = (await virsh(["net-list", "--all", "--name"])).stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const n of nets) add((await virsh(["net-dumpxml", n])).stdout);
  return used;
}

/**
 * Two free /24s, starting from a place derived from `seed` (the instance's prefix), so an instance
 * usually gets the same addresses run after run. A route wider than /24 (10.0.0.0/8 via a VPN) is
 * not seen here; libvirt then refuses the network, naming it.
 */
export function pickSubnets(seed: string, used: Set<string>): { management: string; nodes: string } {
  const start = parseInt(createHash("sha256").update(seed).digest("hex").slice(0, 4), 16);
  const free: string[] = [];
  // 10.200.0.0 – 10.254.255.0: away from the low 10.x ranges VPNs and clouds like.
  const span = 55 * 256;
  for (let i = 0; i < span && free.length < 2; i++) {
    const k = (start + i) % span;
    const subnet = `10.${200 + Math.floor(k / 256)}.${k % 256}`;
    if (!used.has(subnet)) free.push(subnet);
  }
  if (free.length < 2) throw new Error("no free /24 left in 10.200.0.0–10.254.255.0 for the instance's networks");
  return { management: free[0]!, nodes: free[1]! };
}

/** Node `index`'s address on the nodes' network (.1 is the host's bridge). */
export function nodeAddress(subnet: string, index: number): string {
  return `${subnet}.${index + 2}`;
}
