// Boxes that start `from` a registry image (rockylinux:9, a team's own base image): the image is pulled
// once with the user's Docker credentials (as `docker pull` would), then the box is a Docker build on
// it: systemd and bash if the image lacks them, the box's packages with the image's package manager,
// customize.sh (with the box's build_env), the container systemd set-up and the usual finish (masks, no machine id, no caches).
import path from "node:path";
import type { Box } from "../../boxes/definition.ts";
import { UserError } from "../../errors.ts";
import { task } from "../../util/ui.ts";
import { customizeStep, finishingSteps, installStep, PACKAGE_FUNCTIONS, SYSTEMD_PACKAGES } from "./build-steps.ts";
import { docker } from "./client.ts";
import { buildOn } from "./image-build.ts";
import { findRegistryAuth, registryOf } from "./registry-auth.ts";

/** The box at the root of the chain (the one that says `from:`). */
export function rootOf(box: Box): Box {
  return box.parent ? rootOf(box.parent) : box;
}

/**
 * The id of the chain's base image, pulled first if this machine does not have it. A newer image under
 * the same tag is only taken after `docker pull` (the box is then rebuilt on it: the id is part of the
 * box's fingerprint).
 */
export async function baseImageId(box: Box): Promise<string> {
  const root = rootOf(box);
  if (root.base.kind !== "image") throw new Error(`box ${root.name} does not start from an image`);
  const ref = root.base.from;
  const d = await docker();
  const local = await d.getImage(ref).inspect().then((i) => i.Id, () => undefined);
  if (local) return local;
  await task(`pull ${ref} (box ${root.name}; once)`, (p) => pull(root, ref, p));
  const pulled = await d.getImage(ref).inspect().then((i) => i.Id, () => undefined);
  if (!pulled) throw new UserError(`${path.join(root.dir, "box.yml")}: from: pulled ${ref}, but Docker does not list it afterwards`);
  return pulled;
}

async function pull(root: Box, ref: string, progress: (t: string) => void): Promise<void> {
  const d = await docker();
  const where = `${path.join(root.dir, "box.yml")}: from: cannot pull ${ref}`;
  const found = findRegistryAuth(ref);
  const registry = registryOf(ref);
  const login = registry.startsWith("https://") ? "docker login" : `docker login ${registry}`;
  const credentials = found ? `with the credentials in ${found.source}` : `without credentials (your Docker configuration has none for ${registry}; \`${login}\` adds them)`;
  let error: string | undefined;
  try {
    const stream = await d.pull(ref, found ? { authconfig: found.auth } : {});
    await new Promise((resolve, reject) =>
      d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null)), (e: { status?: string; progress?: string; error?: string; id?: string }) => {
        if (e.error) error = e.error;
        else if (e.status) progress(`${e.id ? `${e.id}: ` : ""}${e.status}${e.progress ? ` ${e.progress}` : ""}`.slice(0, 70));
      }));
  } catch (err) {
    // dockerode's "(HTTP code 500) server error - …" says nothing the daemon's own message does not.
    error = (err as Error).message.replace(/^\(HTTP code \d+\)[^-]*- /, "");
  }
  if (error) throw new UserError(`${where} ${credentials}: ${error.trim()}`);
}

/** Builds the root box of an image chain on its pulled image. */
export async function buildFromImage(box: Box, from: string, tag: string, progress: (t: string) => void): Promise<void> {
  progress(`on ${from}: systemd set-up${box.definition.packages.length ? `, installing ${box.definition.packages.join(", ")}` : ""}`);
  await buildOn(box, {
    from,
    tag,
    files: {
      // sh, not bash: the image may not have bash until its packages are installed.
      "packages.sh": ["set -eux", PACKAGE_FUNCTIONS, SYSTEMD_PACKAGES, installStep(box.definition.packages), ""].join("\n"),
      "build.sh": [
        "set -eux",
        PACKAGE_FUNCTIONS,
        customizeStep(box),
        ...finishingSteps(box), // with Galley's container set-up
        "",
      ].join("\n"),
    },
    instructions: [
      "COPY packages.sh build.sh /tmp/",
      'RUN ["/bin/sh", "/tmp/packages.sh"]',
      'RUN ["/bin/bash", "/tmp/build.sh"]',
      // systemd's container interface: it must know it runs in a container, and stops on SIGRTMIN+3.
      "ENV container=docker",
      "STOPSIGNAL SIGRTMIN+3",
      'CMD ["/lib/systemd/systemd"]',
    ],
  }, progress);
}
