// A box's definition (box.yml), for every driver: what a node's system is made of. A base box names a
// Debian release and is built from nothing (debootstrap); a box that `extends` another adds packages,
// masked units and a customize.sh on top of its parent. Drivers turn the chain into images their own
// way (Docker: a layer on the parent's image); this module only reads, checks and fingerprints it.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.ts";

/** The boxes Galley ships (harness/boxes), usable by name: `box: debian-12`, `extends: debian-12`. */
export const SHIPPED_BOXES = fileURLToPath(new URL("../../boxes", import.meta.url));

const BoxName = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { message: "expected lower-case letters, digits, '.' and '-'" });

export const BoxYml = z
  .strictObject({
    /** The image's name; default: the folder's name. */
    name: BoxName.optional(),
    /** Another box (a shipped box's name or a folder, relative to this one) this box adds to. */
    extends: z.string().optional(),
    /** Debian code name given to debootstrap (bookworm, trixie, …). A base box only. */
    distribution: z.string().optional(),
    /** debootstrap's variant. A base box only. */
    variant: z.enum(["minbase", "buildd", "fakechroot"]).optional(),
    /** Default: the host's own Debian mirror (from its apt sources), else debootstrap's default. A base box only. */
    mirror: z.string().optional(),
    /** Debian packages baked into the image (an extending box adds them to its parent's). */
    packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, { message: "expected a Debian package name" })).default([]),
    /**
     * Units installed by a package but configured later: masked so they cannot start at boot (a first
     * boot applies systemd's presets, which re-enables merely disabled units). `etcd` means etcd.service.
     */
    masked: z.array(z.string().regex(/^[A-Za-z0-9@_.:\\-]+$/, { message: "expected a unit name" })).default([]),
    /**
     * Nodes run Docker inside: each gets its own /var/lib/docker volume (Docker's storage cannot live
     * on the container's overlay filesystem). Default: the parent's setting, else false.
     */
    nested_docker: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.extends !== undefined) {
      for (const key of ["distribution", "variant", "mirror"] as const) {
        if (b[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `comes from the box it extends (${b.extends}); only a base box sets it` });
      }
    } else if (b.distribution === undefined) {
      ctx.addIssue({ code: "custom", path: ["distribution"], message: "is required (a Debian code name such as bookworm), unless the box extends another" });
    }
  });
export type BoxYml = z.infer<typeof BoxYml>;

export interface Box {
  name: string;
  /** The folder with box.yml (and customize.sh, if any). */
  dir: string;
  definition: BoxYml;
  /** The box this one extends, resolved. */
  parent?: Box;
  /** The Debian release, variant and mirror of the chain's base box. */
  base: { distribution: string; variant: "minbase" | "buildd" | "fakechroot"; mirror?: string };
  /** Whether nodes of this box run Docker inside (nested_docker, inherited). */
  nestedDocker: boolean;
  /** customize.sh beside box.yml, if present. */
  customizeScript?: string;
  /** Whether this box's own definition changes the parent's system (packages, masks or customize.sh). */
  addsToParent: boolean;
}

/**
 * Where a box reference points: a folder with box.yml (relative to `from`), else a box Galley ships by
 * that name. Undefined when it is neither.
 */
export function findBox(ref: string, from: string): string | undefined {
  const dir = path.resolve(from, ref);
  if (existsSync(path.join(dir, "box.yml"))) return dir;
  const shipped = path.join(SHIPPED_BOXES, ref);
  if (/^[a-z0-9][a-z0-9.-]*$/.test(ref) && existsSync(path.join(shipped, "box.yml"))) return shipped;
  return undefined;
}

export function shippedBoxNames(): string[] {
  try {
    return readdirSync(SHIPPED_BOXES).filter((b) => existsSync(path.join(SHIPPED_BOXES, b, "box.yml"))).sort();
  } catch {
    return [];
  }
}

/** Why a box reference resolves to nothing, for config errors. */
export function boxNotFound(ref: string, from: string): string {
  const dir = path.resolve(from, ref);
  const folder = existsSync(dir) && statSync(dir).isDirectory() ? `${dir} has no box.yml` : `no folder ${dir}`;
  return `box ${ref} not found: ${folder}, and Galley ships no box of that name (shipped: ${shippedBoxNames().join(", ") || "none"})`;
}

/** Reads a box and every box it extends; errors name the file and key. */
export function loadBox(dir: string, seen: string[] = []): Box {
  const file = path.join(dir, "box.yml");
  if (seen.includes(dir)) throw new UserError(`${file}: extends: a box cannot extend itself (${[...seen, dir].map((d) => path.join(d, "box.yml")).join(" → ")})`);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  const parsed = BoxYml.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new UserError(parsed.error.issues.map((i) => `${file}: ${i.path.join(".") || "(top level)"}: ${i.message.replace(/^Invalid input: /, "")}`).join("\n"));
  }
  const def = parsed.data;
  const customize = path.join(dir, "customize.sh");
  const customizeScript = existsSync(customize) ? customize : undefined;
  const name = def.name ?? path.basename(dir).toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  if (!name) throw new UserError(`${file}: name: the folder's name ${path.basename(dir)} is no box name; set name:`);
  let parent: Box | undefined;
  if (def.extends !== undefined) {
    const parentDir = findBox(def.extends, dir);
    if (!parentDir) throw new UserError(`${file}: extends: ${boxNotFound(def.extends, dir)}`);
    parent = loadBox(parentDir, [...seen, dir]);
  }
  return {
    name,
    dir,
    definition: def,
    parent,
    base: parent?.base ?? { distribution: def.distribution!, variant: def.variant ?? "minbase", mirror: def.mirror },
    nestedDocker: def.nested_docker ?? parent?.nestedDocker ?? false,
    customizeScript,
    addsToParent: !parent || def.packages.length > 0 || def.masked.length > 0 || customizeScript !== undefined,
  };
}

/**
 * A fingerprint of what the box's system is made of: its own files and, for an extending box, its
 * parent's fingerprint. `salt` is the builder's version (a driver bumps it when its build steps change).
 * A base box's fingerprint is sha256(salt, box.yml, customize.sh), as it has always been, so images
 * built before boxes could extend one another stay valid.
 */
export function boxHash(box: Box, salt: string): string {
  const hash = createHash("sha256").update(salt);
  if (box.parent) hash.update("extends").update(boxHash(box.parent, salt));
  for (const f of ["box.yml", "customize.sh"]) {
    const file = path.join(box.dir, f);
    if (existsSync(file)) hash.update(f).update(readFileSync(file));
  }
  return hash.digest("hex").slice(0, 12);
}

/** The unit a `masked:` entry names (`etcd` → etcd.service). */
export const unitName = (entry: string): string => (entry.includes(".") ? entry : `${entry}.service`);
