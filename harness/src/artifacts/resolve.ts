// Artifacts: binaries built or fetched on the host once, cached by content, and copied into every node
// (to /var/lib/galley/artifacts/<name>/). `build` runs a recipe's build.sh VERSION OUTDIR; the cache key
// is the recipe folder's content plus the version, so editing go.mod rebuilds and nothing else does.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import { ActionFailed, UserError } from "../errors.ts";
import type { ArtifactSpec } from "../config/schema.ts";
import { cacheDir } from "../util/cache.ts";
import { task } from "../util/ui.ts";

export interface ResolvedArtifact {
  name: string;
  dir: string;
  description: string;
}

function hashTree(dir: string, h = createHash("sha256"), rel = ""): ReturnType<typeof createHash> {
  for (const entry of readdirSync(dir).sort()) {
    const abs = path.join(dir, entry);
    if (statSync(abs).isDirectory()) hashTree(abs, h, path.join(rel, entry));
    else h.update(path.join(rel, entry)).update("\0").update(readFileSync(abs)).update("\0");
  }
  return h;
}

export async function resolveArtifact(name: string, spec: ArtifactSpec & { base: string }): Promise<ResolvedArtifact> {
  if (spec.source === "path") {
    const dir = path.resolve(spec.base, spec.path);
    if (!existsSync(dir)) throw new UserError(`artifact ${name}: path ${dir} does not exist`);
    return { name, dir, description: `${name} from ${dir}` };
  }
  const recipe = path.resolve(spec.base, spec.recipe);
  const key = hashTree(recipe).update(spec.version).digest("hex").slice(0, 16);
  const dir = cacheDir("artifacts", name, `${spec.version}-${key}`);
  const description = `${name} ${spec.version}`;
  if (existsSync(path.join(dir, ".complete"))) return { name, dir, description };
  mkdirSync(path.dirname(dir), { recursive: true });
  const release = await lockfile.lock(path.dirname(dir), {
    realpath: false,
    lockfilePath: `${dir}.lock`,
    stale: 30_000,
    retries: { retries: 1200, minTimeout: 1000, maxTimeout: 1000 },
  });
  try {
    if (!existsSync(path.join(dir, ".complete"))) {
      await task(`build ${description} (once; cached)`, (progress) => build(recipe, spec.version, dir, progress));
    }
  } finally {
    await release();
  }
  return { name, dir, description };
}

async function build(recipe: string, version: string, dir: string, progress: (t: string) => void): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const logFile = `${dir}.log`;
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn("bash", [path.join(recipe, "build.sh"), version, tmp], { stdio: ["ignore", "pipe", "pipe"] });
    const onData = (b: Buffer) => {
      const text = b.toString();
      output.push(text);
      const last = text.trim().split("\n").pop();
      if (last) progress(last.slice(0, 70));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  const { writeFileSync } = await import("node:fs");
  writeFileSync(logFile, output.join(""));
  if (code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    const tail = output.join("").trim().split("\n").slice(-15).join("\n");
    throw new ActionFailed(`building ${path.basename(recipe)} ${version} failed (exit ${code}; full log ${logFile}):\n${tail}`);
  }
  writeFileSync(path.join(tmp, ".complete"), new Date().toISOString());
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}
