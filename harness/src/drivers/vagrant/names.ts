// Names of everything the Vagrant driver makes in libvirt, so a sweep finds an instance's domains,
// volumes and networks from its name alone (no state file needed) and never touches another
// checkout's: galley-<project>_<instance>_<node>. Instance and node names cannot hold "_", so one
// instance's prefix is never the start of another's.
import { createHash } from "node:crypto";

/** Whose VMs: an instance of the project whose galley.yml sits in `root`. */
export interface Owner {
  instance: string;
  /** Folder of the config file. */
  root: string;
}

/** What every libvirt object Galley makes starts with, whatever the checkout. */
export const GALLEY_PREFIX = "galley-";

/** A project's short id: its config folder's hash (6 hex digits, as the Docker driver's project label). */
export function projectId(root: string): string {
  return createHash("sha256").update(root).digest("hex").slice(0, 6);
}

/** Start of every libvirt object of one project (the folder of its galley.yml). */
export function projectPrefix(root: string): string {
  return `${GALLEY_PREFIX}${projectId(root)}_`;
}

/** Start of every domain, volume and network of one instance (vagrant-libvirt's default_prefix). */
export function instancePrefix(owner: Owner): string {
  return `${projectPrefix(owner.root)}${owner.instance}_`;
}

export function domainName(owner: Owner, node: string): string {
  return instancePrefix(owner) + node;
}

/** The management network (Vagrant's SSH, DHCP) and the nodes' own network (fixed addresses). */
export function networkNames(owner: Owner): { management: string; nodes: string } {
  return { management: `${instancePrefix(owner)}mgmt`, nodes: `${instancePrefix(owner)}nodes` };
}

/** Is this libvirt object one Galley made (any checkout)? */
export function isGalleyName(name: string): boolean {
  return /^galley-[0-9a-f]{6}_/.test(name);
}
