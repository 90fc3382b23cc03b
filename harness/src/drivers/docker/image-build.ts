// One `docker build` of a box image on another image: scripts written into a throwaway context, the
// build's output in the box's log, a failure reported with the box's file, the image it built on and
// the last lines of output. A Docker build leaves no container behind, even when Galley is killed.
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Box } from "../../boxes/definition.ts";
import { UserError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { docker } from "./client.ts";
import { LABEL_BOX } from "./labels.ts";
import { tarFs } from "../../util/lazy-modules.ts";

export interface BuildSpec {
  /** The image built on (tag or id; present locally: the build never pulls). */
  from: string;
  /** The new image's tag. */
  tag: string;
  /** Files of the build context (name → content). */
  files: Record<string, string>;
  /** Dockerfile instructions after FROM; the box label is added. */
  instructions: string[];
}

export async function buildOn(box: Box, spec: BuildSpec, progress: (t: string) => void): Promise<void> {
  const d = await docker();
  const logFile = cacheDir("boxes", `${box.name}.log`);
  mkdirSync(cacheDir("tmp"), { recursive: true });
  const context = mkdtempSync(path.join(cacheDir("tmp"), `layer-${box.name}-`));
  const forget = removeOnExit(context);
  const logStream = createWriteStream(logFile, { flags: "a" }); // one box build, several steps
  const tail: string[] = [];
  const log = (l: string) => {
    logStream.write(l + "\n");
    tail.push(l);
    if (tail.length > 15) tail.shift();
    if (/^(Setting up|Unpacking|Get:\d+|Installing|Upgrading|Downloading|Complete!) ?/.test(l.trim())) progress(l.trim().slice(0, 70));
  };
  try {
    for (const [name, content] of Object.entries(spec.files)) writeFileSync(path.join(context, name), content);
    writeFileSync(path.join(context, "Dockerfile"), [`FROM ${spec.from}`, ...spec.instructions, `LABEL ${LABEL_BOX}=${box.name}`, ""].join("\n"));
    const stream = await d.buildImage(tarFs().pack(context) as unknown as NodeJS.ReadableStream, { t: spec.tag, rm: true, forcerm: true, pull: false });
    let error: string | undefined;
    await new Promise((resolve, reject) =>
      d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null)), (e: { stream?: string; error?: string }) => {
        for (const l of (e.stream ?? "").split("\n")) if (l.trim()) log(l);
        if (e.error) error = e.error;
      }));
    if (error) {
      throw new UserError(`box ${box.name} (${path.join(box.dir, "box.yml")}): building it on ${spec.from} failed: ${error}; last output:\n${tail.join("\n")}\n(full log: ${logFile})`);
    }
  } finally {
    logStream.end();
    rmSync(context, { recursive: true, force: true });
    forget();
  }
}
