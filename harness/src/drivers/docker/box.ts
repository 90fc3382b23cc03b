// Boxes as Docker images: a base box is a systemd rootfs bootstrapped from Debian packages (mmdebstrap
// where installed, else debootstrap) and imported, or a build on a pulled registry image (image-box.ts);
// a box that extends another is a layer built on its parent's image. Built once, tagged by the hash of
// the definition chain (boxes/definition.ts reads it), rebuilt only when it changes.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import lockfile from "proper-lockfile";
import { boxHash, type Box } from "../../boxes/definition.ts";
import { EnvironmentError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { track } from "../../util/children.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { task } from "../../util/ui.ts";
import { customizeStep, finishingSteps, installStep, PACKAGE_FUNCTIONS } from "./build-steps.ts";
import { docker } from "./client.ts";
import { baseImageId, buildFromImage, rootOf } from "./image-box.ts";
import { buildOn } from "./image-build.ts";
import { LABEL_BOX } from "./labels.ts";

// Bump when the build steps below change, so cached images are rebuilt.
const BUILDER_VERSION = "1";

/**
 * The image a box's nodes run: its own, or its parent's when it adds nothing to the system (only
 * settings). A chain that starts from a registry image is also tagged by that image's id (`baseId`).
 */
export function imageOf(box: Box, baseId?: string): string {
  if (box.parent && !box.addsToParent) return imageOf(box.parent, baseId);
  if (rootOf(box).base.kind === "image" && !baseId) throw new Error(`box ${box.name} starts from an image: its tag needs that image's id`);
  return `galley-box/${box.name}:${boxHash(box, baseId ? `${BUILDER_VERSION}+${baseId}` : BUILDER_VERSION)}`;
}

/**
 * Builds the box's image unless it exists: a base box by bootstrapping Debian or on its pulled image, an
 * extending box as a layer on its parent's image (built first if need be).
 */
export async function ensureBox(box: Box): Promise<string> {
  const baseId = rootOf(box).base.kind === "image" ? await baseImageId(box) : undefined;
  return ensure(box, baseId);
}

async function ensure(box: Box, baseId: string | undefined): Promise<string> {
  if (box.parent && !box.addsToParent) return ensure(box.parent, baseId);
  const image = imageOf(box, baseId);
  const d = await docker();
  const present = async () => d.getImage(image).inspect().then(() => true, () => false);
  if (await present()) return image;
  const parentImage = box.parent ? await ensure(box.parent, baseId) : undefined;
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
    if (!(await present())) {
      await task(`build box ${box.name} (once; cached as ${image})`, async (p) => {
        if (parentImage) await buildLayer(box, parentImage, image, p);
        else if (box.base.kind === "image") await buildFromImage(box, box.base.from, image, p);
        else await buildBox(box, image, p);
        await dropOlderImages(box.name, image);
      });
    }
  } finally {
    await release();
  }
  return image;
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

/** mmdebstrap when installed (about 2.5× faster here: parallel downloads, one dpkg run), else debootstrap. */
export function bootstrapTool(variant: string, has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0): "mmdebstrap" | "debootstrap" {
  // debootstrap's fakechroot variant is a mode, not a variant, to mmdebstrap.
  return variant !== "fakechroot" && has("mmdebstrap") ? "mmdebstrap" : "debootstrap";
}

async function buildBox(box: Box, image: string, progress: (t: string) => void): Promise<void> {
  if (box.base.kind !== "debootstrap") throw new Error(`box ${box.name} is not built by debootstrap`);
  const { distribution, variant } = box.base;
  const packages = box.definition.packages;
  const tool = bootstrapTool(variant);
  if (process.getuid?.() !== 0) throw new EnvironmentError(`building a box runs ${tool}, which needs root: run galley as root (or with sudo) once to build it`);
  const logFile = cacheDir("boxes", `${box.name}.log`);
  const logStream = createWriteStream(logFile);
  const log = (l: string) => logStream.write(l + "\n");
  mkdirSync(cacheDir("tmp"), { recursive: true });
  // We hold this box's build lock: any rootfs of it in tmp/ is a killed build's, left behind.
  for (const stale of readdirSync(cacheDir("tmp")).filter((f) => f.startsWith(`box-${box.name}-`))) removeRootfs(path.join(cacheDir("tmp"), stale));
  const rootfs = mkdtempSync(path.join(cacheDir("tmp"), `box-${box.name}-`));
  const forget = removeOnExit(rootfs, () => unmountUnder(rootfs));
  try {
    const mirror = box.base.mirror ?? hostDebianMirror();
    const include = packages.length ? [`--include=${packages.join(",")}`] : [];
    if (tool === "mmdebstrap") {
      await run("mmdebstrap", ["--mode=root", `--variant=${variant}`, ...include, distribution, rootfs, ...(mirror ? [mirror] : [])], log, (l) => {
        if (l.startsWith("I: ")) progress(`mmdebstrap: ${l.slice(3, 63)}`);
      });
    } else {
      let retrieved = 0;
      let unpacked = 0;
      await run("debootstrap", [`--variant=${variant}`, ...include, distribution, rootfs, ...(mirror ? [mirror] : [])], log, (l) => {
        if (l.startsWith("I: Retrieving")) progress(`debootstrap: downloaded ${++retrieved} packages`);
        else if (l.startsWith("I: Unpacking") || l.startsWith("I: Configuring")) progress(`debootstrap: ${l.slice(3, 60)} (${++unpacked})`);
      });
    }
    progress("customizing");
    const script = ["set -eux", PACKAGE_FUNCTIONS, customizeStep(box), ...finishingSteps(box)].join("\n");
    await run("chroot", [rootfs, "/bin/bash", "-c", script], log);
    progress("importing into Docker");
    const d = await docker();
    const tar = spawn("tar", ["--numeric-owner", "-C", rootfs, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const [repo, tag] = image.split(":");
    const stream = await d.importImage(tar.stdout as unknown as string, {
      repo,
      tag,
      changes: ['CMD ["/lib/systemd/systemd"]', "ENV container=docker", `LABEL ${LABEL_BOX}=${box.name}`],
    } as object);
    await new Promise((resolve, reject) => d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null))));
  } finally {
    logStream.end();
    removeRootfs(rootfs);
    forget();
  }
}

/** Drops images of older definitions of this box (an image another image is built on stays). */
async function dropOlderImages(name: string, current: string): Promise<void> {
  const d = await docker();
  const old = await d.listImages({ filters: { label: [`${LABEL_BOX}=${name}`] } });
  for (const img of old) {
    if (!img.RepoTags?.includes(current)) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
  }
}

/**
 * An extending box: its packages (with the parent's package manager), customize.sh and masks applied on
 * the parent's image by a Docker build. Seconds, not the minutes a bootstrap takes.
 */
async function buildLayer(box: Box, parentImage: string, image: string, progress: (t: string) => void): Promise<void> {
  const packages = box.definition.packages;
  progress(`on ${parentImage}: ${packages.length ? `installing ${packages.join(", ")}` : "customizing"}`);
  await buildOn(box, {
    from: parentImage,
    tag: image,
    files: { "build.sh": ["set -eux", PACKAGE_FUNCTIONS, installStep(packages), customizeStep(box), ...finishingSteps(box), ""].join("\n") },
    instructions: ["COPY build.sh /tmp/galley-build.sh", 'RUN ["/bin/bash", "/tmp/galley-build.sh"]', 'CMD ["/lib/systemd/systemd"]'],
  }, progress);
}

function removeRootfs(rootfs: string): void {
  unmountUnder(rootfs); // a failed debootstrap can leave proc/sys mounted in the rootfs
  rmSync(rootfs, { recursive: true, force: true, maxRetries: 3 });
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m): m is string => Boolean(m?.startsWith(dir + "/")));
  for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
}
