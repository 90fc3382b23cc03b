// A Debian base box as three cached image layers, each tagged by its own fingerprint, so a change
// rebuilds only from the layer it touches:
//   1. system: the release bootstrapped with systemd (mmdebstrap where installed, else debootstrap) and
//      imported. Keyed by release, variant, mirror and architecture: every box on that release shares it.
//   2. packages: the box's packages, installed on the system layer by a Docker build.
//   3. the box: its customize.sh, Galley's container set-up, masks and finish, by a Docker build.
// Editing customize.sh redoes layer 3 only (seconds), editing the package list layers 2 and 3, never
// the bootstrap. The bootstrap keeps its .debs in Galley's cache (debs/<release>-<arch>), so a
// rebuild of the system layer downloads nothing it already has.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Box } from "../../boxes/definition.ts";
import { hostDebianMirror } from "../../boxes/mirror.ts";
import { EnvironmentError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { track } from "../../util/children.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { task } from "../../util/ui.ts";
import { customizeStep, finishingSteps, installStep, PACKAGE_FUNCTIONS } from "./build-steps.ts";
import { docker } from "./client.ts";
import { buildOn } from "./image-build.ts";
import { LABEL_BOX } from "./labels.ts";

/** What the system layer holds besides the variant's own packages: enough for systemd to boot. */
export const SYSTEM_PACKAGES = ["systemd", "systemd-sysv", "dbus"];

/**
 * dpkg and apt settings of the bootstrap (they stay in the image, so the later layers' apt runs use
 * them too): no fsync per file (an image build that fails is rebuilt, not repaired), no manuals,
 * documentation or translations (nobody reads them on a test node; fewer files to unpack and import).
 */
export const BOOTSTRAP_OPTIONS = [
  "--dpkgopt=force-unsafe-io",
  "--dpkgopt=path-exclude=/usr/share/man/*",
  "--dpkgopt=path-exclude=/usr/share/info/*",
  "--dpkgopt=path-exclude=/usr/share/locale/*",
  "--dpkgopt=path-exclude=/usr/share/doc/*",
  "--dpkgopt=path-include=/usr/share/doc/*/copyright",
  '--aptopt=Acquire::Languages "none"',
];

/** mmdebstrap's hooks that merge /usr where the release has usr-is-merged (bookworm on), as debootstrap does. */
const MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/maybe-merged-usr";

export type BootstrapTool = "mmdebstrap" | "debootstrap";

/**
 * mmdebstrap when installed (parallel downloads, one dpkg run), else debootstrap; GALLEY_BOOTSTRAP
 * names one (the cold-run benchmark compares them).
 */
export function bootstrapTool(variant: string, has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0, env: NodeJS.ProcessEnv = process.env): BootstrapTool {
  const asked = env.GALLEY_BOOTSTRAP;
  if (asked !== undefined && asked !== "") {
    if (asked !== "mmdebstrap" && asked !== "debootstrap") throw new EnvironmentError(`GALLEY_BOOTSTRAP=${asked}: expected mmdebstrap or debootstrap`);
    if (asked === "mmdebstrap" && variant === "fakechroot") throw new EnvironmentError(`GALLEY_BOOTSTRAP=mmdebstrap: the variant fakechroot is debootstrap's`);
    return asked;
  }
  // debootstrap's fakechroot variant is a mode, not a variant, to mmdebstrap.
  return variant !== "fakechroot" && has("mmdebstrap") ? "mmdebstrap" : "debootstrap";
}

export interface Layers {
  /** repository:tag of each layer, bottom first; the last is the box's own image. */
  system: string;
  packages?: string;
  box: string;
}

/** The tags of a base box's layers under `repo` (`box` is its image, from imageOf). */
export function layersOf(box: Box, repo: string, builderVersion: string, boxImage: string, arch = hostArch()): Layers {
  if (box.base.kind !== "debootstrap") throw new Error(`box ${box.name} is not bootstrapped from Debian`);
  const { distribution, variant } = box.base;
  const mirror = box.base.mirror ?? hostDebianMirror() ?? "";
  const h = (...parts: string[]) => parts.reduce((hash, p) => hash.update(p).update("\0"), createHash("sha256")).digest("hex").slice(0, 12);
  const system = `${repo}/system-${distribution}-${variant}:${h(builderVersion, distribution, variant, mirror, arch, SYSTEM_PACKAGES.join(","), BOOTSTRAP_OPTIONS.join(" "), "maybe-merged-usr")}`;
  const packages = box.definition.packages;
  return {
    system,
    packages: packages.length ? `${repo}/${box.name}-packages:${h(system, packages.join(","))}` : undefined,
    box: boxImage,
  };
}

/** dpkg's name for this machine's architecture (amd64, arm64, …). */
export function hostArch(): string {
  const r = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  return ({ x64: "amd64", arm64: "arm64", ia32: "i386" } as Record<string, string>)[process.arch] ?? process.arch;
}

const present = async (image: string) => (await docker()).getImage(image).inspect().then(() => true, () => false);

/**
 * Builds what is missing of the box's layers, bottom up (the caller holds the box's lock; the system
 * layer, shared by boxes on the same release, has its own). Each layer is a step of its own on the
 * console, so a cold run says where its time went.
 */
export async function buildDebianBox(box: Box, layers: Layers, lock: (name: string) => Promise<() => Promise<void>>): Promise<void> {
  if (!(await present(layers.system))) {
    const name = layers.system.slice(layers.system.indexOf("/") + 1, layers.system.lastIndexOf(":"));
    const release = await lock(name);
    try {
      if (!(await present(layers.system))) {
        await task(`build system layer ${name} (once; cached as ${layers.system})`, (p) => bootstrapSystem(box, layers.system, name, p));
      }
    } finally {
      await release();
    }
  }
  let below = layers.system;
  if (layers.packages) {
    const packages = layers.packages;
    if (!(await present(packages))) {
      await task(`build packages layer of ${box.name} (${box.definition.packages.length} packages; cached as ${packages})`, (p) =>
        buildOn(box, {
          from: layers.system,
          tag: packages,
          files: { "packages.sh": ["set -eux", PACKAGE_FUNCTIONS, installStep(box.definition.packages), "galley_clean", ""].join("\n") },
          // The script stays in /tmp until the box layer's finish empties it: one build step less.
          instructions: ["COPY packages.sh /tmp/galley-packages.sh", 'RUN ["/bin/bash", "/tmp/galley-packages.sh"]'],
        }, p));
    }
    below = packages;
  }
  await task(`build box ${box.name} on its layers (cached as ${layers.box})`, (p) => {
    p(box.customizeScript ? `customize.sh, Galley's set-up, masks` : "Galley's set-up, masks");
    return buildOn(box, {
      from: below,
      tag: layers.box,
      files: { "build.sh": ["set -eux", PACKAGE_FUNCTIONS, customizeStep(box), ...finishingSteps(box), ""].join("\n") },
      instructions: ["COPY build.sh /tmp/galley-build.sh", 'RUN ["/bin/bash", "/tmp/galley-build.sh"]', "STOPSIGNAL SIGRTMIN+3", 'CMD ["/lib/systemd/systemd"]'],
    }, p);
  });
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

/** Layer 1: the release with systemd, bootstrapped into a rootfs in the cache and imported into Docker. */
async function bootstrapSystem(box: Box, image: string, name: string, progress: (t: string) => void): Promise<void> {
  if (box.base.kind !== "debootstrap") throw new Error(`box ${box.name} is not bootstrapped from Debian`);
  const { distribution, variant } = box.base;
  const tool = bootstrapTool(variant);
  if (process.getuid?.() !== 0) throw new EnvironmentError(`building a box runs ${tool}, which needs root: run galley as root (or with sudo) once to build it`);
  const logStream = createWriteStream(cacheDir("boxes", `${box.name}.log`), { flags: "a" });
  const log = (l: string) => logStream.write(l + "\n");
  mkdirSync(cacheDir("tmp"), { recursive: true });
  // We hold this layer's build lock: any rootfs of it in tmp/ is a killed build's, left behind.
  for (const stale of readdirSync(cacheDir("tmp")).filter((f) => f.startsWith(`${name}-`))) removeRootfs(path.join(cacheDir("tmp"), stale));
  const rootfs = mkdtempSync(path.join(cacheDir("tmp"), `${name}-`));
  const forget = removeOnExit(rootfs, () => unmountUnder(rootfs));
  // Downloaded .debs stay for the next bootstrap of this release (another variant, a new Galley).
  const debs = cacheDir("debs", `${distribution}-${hostArch()}`);
  mkdirSync(path.join(debs, "partial"), { recursive: true });
  try {
    const mirror = box.base.mirror ?? hostDebianMirror();
    const include = `--include=${SYSTEM_PACKAGES.join(",")}`;
    if (tool === "mmdebstrap") {
      const archives = '"$1"/var/cache/apt/archives';
      await run("mmdebstrap", [
        "--mode=root",
        `--variant=${variant}`,
        include,
        ...BOOTSTRAP_OPTIONS,
        // The cache is bind-mounted where apt keeps its archives, and unmounted before mmdebstrap empties them.
        "--skip=essential/unlink",
        // /usr merged by symlinks, as debootstrap does, not by usrmerge's conversion (which pulls in perl).
        ...(existsSync(MERGED_USR_HOOKS) ? [`--hook-dir=${MERGED_USR_HOOKS}`] : []),
        `--setup-hook=mkdir -p ${archives} && mount --bind ${shellQuote(debs)} ${archives}`,
        `--customize-hook=umount ${archives}`,
        distribution,
        rootfs,
        ...(mirror ? [mirror] : []),
      ], log, (l) => {
        if (l.startsWith("I: ")) progress(`mmdebstrap: ${l.slice(3, 63)}`);
      });
    } else {
      let retrieved = 0;
      let unpacked = 0;
      await run("debootstrap", [`--variant=${variant}`, include, `--cache-dir=${debs}`, distribution, rootfs, ...(mirror ? [mirror] : [])], log, (l) => {
        if (l.startsWith("I: Retrieving")) progress(`debootstrap: downloaded ${++retrieved} packages`);
        else if (l.startsWith("I: Unpacking") || l.startsWith("I: Configuring")) progress(`debootstrap: ${l.slice(3, 60)} (${++unpacked})`);
      });
    }
    // Each node gets its own machine id at first boot; the layers above clean apt's lists.
    await run("chroot", [rootfs, "/bin/sh", "-c", "set -eux; rm -f /etc/machine-id /var/lib/dbus/machine-id; apt-get clean; rm -rf /var/lib/apt/lists/* /tmp/*"], log);
    progress("importing into Docker");
    const d = await docker();
    const tar = spawn("tar", ["--numeric-owner", "-C", rootfs, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const [repo, tag] = [image.slice(0, image.lastIndexOf(":")), image.slice(image.lastIndexOf(":") + 1)];
    const stream = await d.importImage(tar.stdout as unknown as string, {
      repo,
      tag,
      changes: ['CMD ["/lib/systemd/systemd"]', "ENV container=docker", `LABEL ${LABEL_BOX}=${name}`],
    } as object);
    await new Promise((resolve, reject) => d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null))));
  } finally {
    logStream.end();
    removeRootfs(rootfs);
    forget();
  }
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function removeRootfs(rootfs: string): void {
  unmountUnder(rootfs); // a failed bootstrap can leave proc/sys (and the .deb cache) mounted in the rootfs
  rmSync(rootfs, { recursive: true, force: true, maxRetries: 3 });
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m): m is string => Boolean(m?.startsWith(dir + "/")));
  for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
}
