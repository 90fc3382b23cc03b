// Boxes: a systemd rootfs debootstrapped from Debian packages and imported as a Docker image. Built once,
// tagged by the hash of its definition, rebuilt only when the definition changes.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import lockfile from "proper-lockfile";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { EnvironmentError, UserError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { track } from "../../util/children.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { task } from "../../util/ui.ts";
import { docker } from "./client.ts";
import { LABEL_BOX } from "./labels.ts";

const BoxDefinition = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/),
  /** Debian code name given to debootstrap (bookworm, trixie, …). */
  distribution: z.string(),
  variant: z.enum(["minbase", "buildd", "fakechroot"]).default("minbase"),
  packages: z.array(z.string()).default([]),
  /**
   * Units installed by a package but configured later: masked so they cannot start at boot (a first
   * boot applies systemd's presets, which re-enables merely disabled units).
   */
  masked: z.array(z.string()).default([]),
  /** Default: the host's own Debian mirror (from its apt sources), else debootstrap's default. */
  mirror: z.string().optional(),
});

export interface Box {
  name: string;
  dir: string;
  image: string;
  hash: string;
  definition: z.infer<typeof BoxDefinition>;
}

// Bump when the build steps below change, so cached images are rebuilt.
const BUILDER_VERSION = "1";

export function loadBox(dir: string): Box {
  const file = path.join(dir, "box.yml");
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  const parsed = BoxDefinition.safeParse(raw);
  if (!parsed.success) {
    throw new UserError(parsed.error.issues.map((i) => `${file}: ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n"));
  }
  const hash = createHash("sha256").update(BUILDER_VERSION);
  for (const f of ["box.yml", "customize.sh"]) {
    if (existsSync(path.join(dir, f))) hash.update(f).update(readFileSync(path.join(dir, f)));
  }
  const h = hash.digest("hex").slice(0, 12);
  return { name: parsed.data.name, dir, hash: h, image: `galley-box/${parsed.data.name}:${h}`, definition: parsed.data };
}

export async function ensureBox(box: Box): Promise<string> {
  const d = await docker();
  const present = async () => d.getImage(box.image).inspect().then(() => true, () => false);
  if (await present()) return box.image;
  const lockDir = cacheDir("boxes");
  mkdirSync(lockDir, { recursive: true });
  // Two instances on one box build it once: the second waits for the first.
  // proper-lockfile tracks its locks by the first argument: one per box, not the shared folder.
  const release = await lockfile.lock(path.join(lockDir, box.name), {
    realpath: false,
    lockfilePath: path.join(lockDir, `${box.name}.lock`),
    stale: 30_000,
    retries: { retries: 600, minTimeout: 1000, maxTimeout: 1000 },
  });
  try {
    if (!(await present())) await task(`build box ${box.name} (once; cached as ${box.image})`, (p) => buildBox(box, p));
  } finally {
    await release();
  }
  return box.image;
}

/** An apt source URI as debootstrap can use it: http(s) as is; apt's `mirror+file:` list → its first mirror. */
export function usableMirror(uri: string): string | undefined {
  if (/^https?:\/\//.test(uri)) return uri;
  const list = /^mirror\+file:\/*(\/.*)$/.exec(uri)?.[1];
  if (!list) return undefined;
  try {
    return /^https?:\/\/\S+/m.exec(readFileSync(list, "utf8"))?.[0];
  } catch {
    return undefined;
  }
}

/** The Debian mirror this machine already uses, so a user's own mirror is respected. */
export function hostDebianMirror(): string | undefined {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const f of readdirSync("/etc/apt/sources.list.d").sort()) files.push(path.join("/etc/apt/sources.list.d", f));
  } catch {
    /* no sources.list.d */
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? "";
        const usable = uri && usableMirror(uri);
        if (usable && /^Types:.*\bdeb\b/m.test(stanza) && !/security/.test(uri + suites) && /debian/.test(uri)) return usable;
      }
    } else {
      for (const l of text.split("\n")) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(l.trim());
        const usable = m && usableMirror(m[1]!);
        if (usable && !/security/.test(m[1]! + m[2]) && /debian/.test(m[1]!)) return usable;
      }
    }
  }
  return undefined;
}

async function run(cmd: string, args: string[], log: (l: string) => void, onLine?: (l: string) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
    const tail: string[] = [];
    const each = (l: string) => {
      log(l);
      tail.push(l);
      if (tail.length > 15) tail.shift();
      onLine?.(l);
    };
    createInterface({ input: child.stdout }).on("line", each);
    createInterface({ input: child.stderr }).on("line", each);
    child.on("error", (err) =>
      reject((err as NodeJS.ErrnoException).code === "ENOENT"
        ? new EnvironmentError(`${cmd} is not installed: \`sudo apt-get install -y ${cmd}\``)
        : err));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new EnvironmentError(`${cmd} ${args.join(" ")} failed (exit ${code}):\n${tail.join("\n")}`)));
  });
}

async function buildBox(box: Box, progress: (t: string) => void): Promise<void> {
  const def = box.definition;
  if (process.getuid?.() !== 0) throw new EnvironmentError("building a box runs debootstrap, which needs root: run galley as root (or with sudo) once to build it");
  const logFile = cacheDir("boxes", `${box.name}.log`);
  const { createWriteStream } = await import("node:fs");
  const logStream = createWriteStream(logFile);
  const log = (l: string) => logStream.write(l + "\n");
  mkdirSync(cacheDir("tmp"), { recursive: true });
  // We hold this box's build lock: any rootfs of it in tmp/ is a killed build's, left behind.
  for (const stale of readdirSync(cacheDir("tmp")).filter((f) => f.startsWith(`box-${box.name}-`))) removeRootfs(path.join(cacheDir("tmp"), stale));
  const rootfs = mkdtempSync(path.join(cacheDir("tmp"), `box-${box.name}-`));
  const forget = removeOnExit(rootfs, () => unmountUnder(rootfs));
  try {
    const mirror = def.mirror ?? hostDebianMirror();
    const args = [`--variant=${def.variant}`, ...(def.packages.length ? [`--include=${def.packages.join(",")}`] : []), def.distribution, rootfs];
    if (mirror) args.push(mirror);
    let retrieved = 0;
    let unpacked = 0;
    await run("debootstrap", args, log, (l) => {
      if (l.startsWith("I: Retrieving")) progress(`debootstrap: downloaded ${++retrieved} packages`);
      else if (l.startsWith("I: Unpacking") || l.startsWith("I: Configuring")) progress(`debootstrap: ${l.slice(3, 60)} (${++unpacked})`);
    });
    progress("customizing");
    const script = [
      "set -eux",
      existsSync(path.join(box.dir, "customize.sh")) ? readFileSync(path.join(box.dir, "customize.sh"), "utf8") : "",
      ...def.masked.map((s) => `systemctl mask ${s.includes(".") ? s : `${s}.service`}`),
      // Every node must get its own machine id at first boot, or fleet sees one machine.
      "rm -f /etc/machine-id /var/lib/dbus/machine-id",
      "apt-get clean",
      "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/log/*.log",
    ].join("\n");
    await run("chroot", [rootfs, "/bin/bash", "-c", script], log);
    progress("importing into Docker");
    const d = await docker();
    const tar = spawn("tar", ["--numeric-owner", "-C", rootfs, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const [repo, tag] = box.image.split(":");
    const stream = await d.importImage(tar.stdout as unknown as string, {
      repo,
      tag,
      changes: ['CMD ["/lib/systemd/systemd"]', "ENV container=docker", `LABEL ${LABEL_BOX}=${box.name}`],
    } as object);
    await new Promise((resolve, reject) => d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null))));
    // Drop images of older definitions of this box.
    const old = await d.listImages({ filters: { label: [`${LABEL_BOX}=${box.name}`] } });
    for (const img of old) {
      if (!img.RepoTags?.includes(box.image)) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
    }
  } finally {
    logStream.end();
    removeRootfs(rootfs);
    forget();
  }
}

function removeRootfs(rootfs: string): void {
  unmountUnder(rootfs); // a failed debootstrap can leave proc/sys mounted in the rootfs
  rmSync(rootfs, { recursive: true, force: true, maxRetries: 3 });
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m): m is string => Boolean(m?.startsWith(dir + "/")));
  for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
}
