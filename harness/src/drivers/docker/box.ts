// Boxes as Docker images: a base box is bootstrapped from Debian packages in three cached layers
// (system, packages, the box's own set-up: debian-layers.ts), or a build on a pulled registry image
// (image-box.ts); a box that extends another is a layer built on its parent's image. Built once, tagged
// by the hash of the definition chain (boxes/definition.ts reads it), rebuilt only when it changes.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import { boxHash, type Box } from "../../boxes/definition.ts";
import { EnvironmentError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { task } from "../../util/ui.ts";
import { customizeStep, finishingSteps, installStep, PACKAGE_FUNCTIONS } from "./build-steps.ts";
import { docker } from "./client.ts";
import { buildDebianBox, layersOf, type Layers } from "./debian-layers.ts";
import { baseImageId, buildFromImage, rootOf } from "./image-box.ts";
import { buildOn } from "./image-build.ts";
import { LABEL_BOX } from "./labels.ts";

export { bootstrapTool } from "./debian-layers.ts";

// Bump when the build steps change, so cached images are rebuilt.
// 2: Debian boxes in layers; Galley's container set-up in every box's finish.
const BUILDER_VERSION = "2";

/**
 * The image a box's nodes run: its own, or its parent's when it adds nothing to the system (only
 * settings). A chain that starts from a registry image is also tagged by that image's id (`baseId`).
 */
export function imageOf(box: Box, baseId?: string): string {
  if (box.parent && !box.addsToParent) return imageOf(box.parent, baseId);
  if (rootOf(box).base.kind === "image" && !baseId) throw new Error(`box ${box.name} starts from an image: its tag needs that image's id`);
  return `${boxRepository()}/${box.name}:${boxHash(box, baseId ? `${BUILDER_VERSION}+${baseId}` : BUILDER_VERSION)}`;
}

/**
 * Where box images are tagged: galley-box/<box>, or GALLEY_BOX_IMAGES/<box> (a benchmark's private
 * namespace, next to a private GALLEY_CACHE, so a cold build never touches the images others use).
 */
export function boxRepository(env: NodeJS.ProcessEnv = process.env): string {
  const repo = env.GALLEY_BOX_IMAGES || "galley-box";
  if (!/^[a-z0-9][a-z0-9._/-]*$/.test(repo)) throw new EnvironmentError(`GALLEY_BOX_IMAGES=${repo}: expected an image repository prefix (lower-case letters, digits, '.', '_', '-', '/')`);
  return repo;
}

/** The image tags of a Debian base box's layers (system, packages, the box's own), as ensureBox builds them. */
export function layerTags(box: Box): Layers {
  return layersOf(box, boxRepository(), BUILDER_VERSION, imageOf(box));
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
  // Two instances on one box build it once: the second waits for the first.
  const release = await buildLock(box.name);
  try {
    if (!(await present())) {
      writeFileSync(cacheDir("boxes", `${box.name}.log`), ""); // each step below appends its output
      let packagesLayer: string | undefined;
      if (parentImage) await task(`build box ${box.name} (once; cached as ${image})`, (p) => buildLayer(box, parentImage, image, p));
      else if (box.base.kind === "image") {
        const from = box.base.from;
        await task(`build box ${box.name} (once; cached as ${image})`, (p) => buildFromImage(box, from, image, p));
      } else {
        const layers = layerTags(box);
        await buildDebianBox(box, layers, buildLock);
        packagesLayer = layers.packages;
      }
      // The box's older images first: an image another is built on cannot be removed.
      await dropOlderImages(box.name, image);
      if (packagesLayer) await dropOlderImages(box.name, packagesLayer);
    }
  } finally {
    await release();
  }
  return image;
}

/** A lock per name in the cache (a box's build, a shared layer's), waited for up to ten minutes. */
async function buildLock(name: string): Promise<() => Promise<void>> {
  const lockDir = cacheDir("boxes");
  mkdirSync(lockDir, { recursive: true });
  // proper-lockfile tracks its locks by the first argument: one per name, not the shared folder.
  return lockfile.lock(path.join(lockDir, name), {
    realpath: false,
    lockfilePath: path.join(lockDir, `${name}.lock`),
    stale: 30_000,
    retries: { retries: 600, minTimeout: 1000, maxTimeout: 1000 },
  });
}

/**
 * Drops images of older definitions of this box in the same repository (an image another image is
 * built on stays): a private GALLEY_BOX_IMAGES build never removes galley-box/<box>, nor the reverse.
 */
async function dropOlderImages(name: string, current: string): Promise<void> {
  const d = await docker();
  const repo = current.slice(0, current.lastIndexOf(":"));
  const old = await d.listImages({ filters: { label: [`${LABEL_BOX}=${name}`] } });
  for (const img of old) {
    const tags = img.RepoTags ?? [];
    const ours = tags.length > 0 && tags.every((t) => t.slice(0, t.lastIndexOf(":")) === repo);
    if (ours && !tags.includes(current)) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
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
