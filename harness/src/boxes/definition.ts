// A box's definition (box.yml), for every driver: what a node's system is made of. A base box names a
// Debian release and is built from nothing (debootstrap), or starts `from` a container image (any
// distribution with systemd, apt, dnf or yum); a box that `extends` another adds packages, masked
// units and a customize.sh on top of its parent. Values a box must not carry (a mirror's address, an
// image's registry) come from the host's environment at build time (`build_env`). Drivers turn the
// chain into images their own way (Docker: a layer on the parent's image); this module only reads,
// checks and fingerprints it.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { UserError } from "../errors.ts";

/** The boxes Galley ships (harness/boxes), usable by name: `box: debian-12`, `extends: debian-12`. */
export const SHIPPED_BOXES = fileURLToPath(new URL("../../boxes", import.meta.url));

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `${NAME}` references in `from:`; each NAME must be listed in build_env. */
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const IMAGE_REF = /^[a-z0-9][a-z0-9._/:@-]*$/i;

const BoxName = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { message: "expected lower-case letters, digits, '.' and '-'" });

export const BoxYml = z
  .strictObject({
    /** The image's name; default: the folder's name. */
    name: BoxName.optional(),
    /** Another box (a shipped box's name or a folder, relative to this one) this box adds to. */
    extends: z.string().optional(),
    /** Debian code name given to debootstrap (bookworm, trixie, …). A base box only. */
    distribution: z.string().optional(),
    /**
     * A container image to start from instead (`rockylinux:9`, `registry.example:5000/team/base:1`),
     * pulled with the user's Docker credentials. May be `${NAME}` (or contain it) for a NAME listed in
     * build_env, so the registry's address comes from the host. A base box only; container drivers only.
     */
    from: z
      .string()
      .refine((f) => IMAGE_REF.test(f.replace(ENV_REF, "x")), { message: "expected an image reference such as rockylinux:9 or host:5000/name:tag, or ${NAME} for a variable listed in build_env" })
      .optional(),
    /**
     * Environment variables taken from the host when the box is built and exported to its customize.sh
     * (a package repository's address, say). Their values are part of the box's fingerprint: another
     * value builds another image. Each must be set whenever the box is used. Not for secrets: the values
     * end up in the image's build script.
     */
    build_env: z.array(z.string().regex(ENV_NAME, { message: "expected an environment variable name" })).default([]),
    /**
     * The box's customize script, relative to its folder: default `customize.sh` there, if present.
     * Lets sibling boxes share one (Debian 11 and 13 use debian-12's).
     */
    customize: z.string().optional(),
    /** debootstrap's variant. A base box only. */
    variant: z.enum(["minbase", "buildd", "fakechroot"]).optional(),
    /** Default: the host's own Debian mirror (from its apt sources), else debootstrap's default. A base box only. */
    mirror: z.string().optional(),
    /**
     * Packages baked into the image, named as the distribution's package manager names them (an extending
     * box adds them to its parent's).
     */
    packages: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._-]*$/, { message: "expected a package name" })).default([]),
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
      for (const key of ["distribution", "from", "variant", "mirror"] as const) {
        if (b[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `comes from the box it extends (${b.extends}); only a base box sets it` });
      }
    } else if (b.from !== undefined) {
      for (const key of ["distribution", "variant", "mirror"] as const) {
        if (b[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `is for a box built by debootstrap; a box made from an image (from: ${b.from}) cannot set it` });
      }
    } else if (b.distribution === undefined) {
      ctx.addIssue({ code: "custom", path: ["distribution"], message: "is required (a Debian code name such as bookworm), unless the box starts from an image (from:) or extends another" });
    }
    for (const [, name] of (b.from ?? "").matchAll(ENV_REF)) {
      if (!b.build_env.includes(name!)) ctx.addIssue({ code: "custom", path: ["from"], message: `uses \${${name}}, which build_env does not list` });
    }
  });
export type BoxYml = z.infer<typeof BoxYml>;

export type BoxBase =
  | { kind: "debootstrap"; distribution: string; variant: "minbase" | "buildd" | "fakechroot"; mirror?: string }
  | { kind: "image"; from: string };

export interface Box {
  name: string;
  /** The folder with box.yml (and customize.sh, if any). */
  dir: string;
  definition: BoxYml;
  /** The box this one extends, resolved. */
  parent?: Box;
  /** How the chain's base box is made: debootstrap of a Debian release, or a container image. */
  base: BoxBase;
  /** Whether nodes of this box run Docker inside (nested_docker, inherited). */
  nestedDocker: boolean;
  /** customize.sh beside box.yml, if present. */
  customizeScript?: string;
  /** This box's own build_env, with the values the host gave (in build_env's order). */
  buildEnv: Record<string, string>;
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

/**
 * Reads a box and every box it extends, taking their build_env from `env`; errors name the file and key
 * (and the variable that is not set).
 */
export function loadBox(dir: string, env: NodeJS.ProcessEnv = process.env, seen: string[] = []): Box {
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
  const customize = path.resolve(dir, def.customize ?? "customize.sh");
  if (def.customize !== undefined && !existsSync(customize)) throw new UserError(`${file}: customize: ${customize} does not exist`);
  const customizeScript = existsSync(customize) ? customize : undefined;
  const name = def.name ?? path.basename(dir).toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  if (!name) throw new UserError(`${file}: name: the folder's name ${path.basename(dir)} is no box name; set name:`);
  let parent: Box | undefined;
  if (def.extends !== undefined) {
    const parentDir = findBox(def.extends, dir);
    if (!parentDir) throw new UserError(`${file}: extends: ${boxNotFound(def.extends, dir)}`);
    parent = loadBox(parentDir, env, [...seen, dir]);
  }
  const buildEnv: Record<string, string> = {};
  for (const variable of def.build_env) {
    const value = env[variable];
    if (value === undefined || value === "") {
      throw new UserError(`${file}: build_env: ${variable} is not set: this box takes it from the environment when it is built (set ${variable} for galley)`);
    }
    buildEnv[variable] = value;
  }
  const from = def.from?.replace(ENV_REF, (_, variable: string) => buildEnv[variable]!);
  if (from !== undefined && from !== def.from && !IMAGE_REF.test(from)) {
    throw new UserError(`${file}: from: ${def.from} is ${JSON.stringify(from)}, which is no image reference (such as rockylinux:9 or host:5000/name:tag)`);
  }
  return {
    name,
    dir,
    definition: def,
    parent,
    base: parent?.base ?? (from !== undefined
      ? { kind: "image", from }
      : { kind: "debootstrap", distribution: def.distribution!, variant: def.variant ?? "minbase", mirror: def.mirror }),
    nestedDocker: def.nested_docker ?? parent?.nestedDocker ?? false,
    customizeScript,
    buildEnv,
    addsToParent: !parent || def.packages.length > 0 || def.masked.length > 0 || customizeScript !== undefined,
  };
}

/**
 * A fingerprint of what the box's system is made of: its own files and, for an extending box, its
 * parent's fingerprint, and its build_env's values. `salt` is the builder's version (a driver bumps it
 * when its build steps change). A base box without build_env has the fingerprint sha256(salt, box.yml,
 * customize.sh), as it has always been, so images built before boxes could extend one another stay valid.
 */
export function boxHash(box: Box, salt: string): string {
  const hash = createHash("sha256").update(salt);
  if (box.parent) hash.update("extends").update(boxHash(box.parent, salt));
  // An editor's schema line says nothing about the system: adding one must not rebuild the box.
  hash.update("box.yml").update(withoutSchemaLine(readFileSync(path.join(box.dir, "box.yml"))));
  // The script's content, wherever it lives (`customize:` may name a sibling box's).
  if (box.customizeScript) hash.update("customize.sh").update(readFileSync(box.customizeScript));
  for (const [variable, value] of Object.entries(box.buildEnv)) hash.update("build_env").update(variable).update("\0").update(value).update("\0");
  return hash.digest("hex").slice(0, 12);
}

/** box.yml without its `# yaml-language-server: $schema=…` line (see json-schema.ts). */
export const withoutSchemaLine = (text: Buffer): Buffer => Buffer.from(text.toString("utf8").replace(/^# yaml-language-server:.*\n/m, ""), "utf8");

/** The unit a `masked:` entry names (`etcd` → etcd.service). */
export const unitName = (entry: string): string => (entry.includes(".") ? entry : `${entry}.service`);
