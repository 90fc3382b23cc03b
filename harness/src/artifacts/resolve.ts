// Artifacts: binaries built or fetched on the host once, cached by content, and copied into every node
// (to /var/lib/galley/artifacts/<name>/).
// - build / debian / go: a recipe folder's build.sh VERSION OUTDIR (its resolve.sh, if any, first turns
//   `latest` into a concrete version). Cached by the recipe's content plus the concrete version, so
//   editing a go.mod rebuilds and nothing else does. The recipes verify what they fetch.
// - url: a release tarball, checked against its sha256 before anything is unpacked (the article's ark).
// - path: binaries the user already has.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import lockfile from "proper-lockfile";
import { ActionFailed, UserError } from "../errors.ts";
import type { ArtifactSpec } from "../config/schema.ts";
import { cacheDir } from "../util/cache.ts";
import { track } from "../util/children.ts";
import { removeOnExit } from "../util/temp-dirs.ts";
import { task } from "../util/ui.ts";

export interface ResolvedArtifact {
  name: string;
  dir: string;
  /** e.g. "etcd v3.6.16" (the concrete version, after `latest` was resolved). */
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
  if (spec.source === "url") {
    const dir = cacheDir("artifacts", name, `url-${spec.sha256.slice(0, 16)}`);
    return cached(name, dir, `${name} from ${spec.url}`, (out) => fetchTarball(spec.url, spec.sha256, spec.binaries, out), "fetch");
  }
  const recipe = path.resolve(spec.base, spec.recipe);
  const version = existsSync(path.join(recipe, "resolve.sh")) ? await resolveVersion(recipe, spec.version) : spec.version;
  const key = hashTree(recipe).update(version).digest("hex").slice(0, 16);
  const dir = cacheDir("artifacts", name, `${version}-${key}`);
  return cached(name, dir, `${name} ${version}`, (out, progress) => build(recipe, version, out, progress));
}

const inflight = new Map<string, Promise<ResolvedArtifact>>();

/**
 * Runs `make` into a temporary folder once per cache entry, then renames it into place. Callers in
 * this process share one promise per entry; other processes wait on a file lock.
 */
function cached(
  name: string,
  dir: string,
  description: string,
  make: (out: string, progress: (t: string) => void) => Promise<void>,
  verb = "build",
): Promise<ResolvedArtifact> {
  let p = inflight.get(dir);
  if (!p) {
    p = buildOnce();
    inflight.set(dir, p);
    // A failed build may be retried by a later call (a fixed recipe, a network blip).
    p.catch(() => inflight.delete(dir));
  }
  return p;

  async function buildOnce(): Promise<ResolvedArtifact> {
    if (existsSync(path.join(dir, ".complete"))) return { name, dir, description };
    mkdirSync(path.dirname(dir), { recursive: true });
    // proper-lockfile tracks its locks by the first argument: it must be unique per lock, not a shared folder.
    const release = await lockfile.lock(dir, {
      realpath: false,
      lockfilePath: `${dir}.lock`,
      stale: 30_000,
      retries: { retries: 1200, minTimeout: 1000, maxTimeout: 1000 },
    });
    try {
      if (!existsSync(path.join(dir, ".complete"))) {
        await task(`${verb} ${description} (once; cached)`, async (progress) => {
          const tmp = `${dir}.tmp-${process.pid}`;
          // We hold the lock: any other .tmp-* of this entry is a killed build's, left behind.
          const base = path.basename(dir);
          for (const f of readdirSync(path.dirname(dir))) if (f.startsWith(`${base}.tmp-`)) rmSync(path.join(path.dirname(dir), f), { recursive: true, force: true });
          mkdirSync(tmp, { recursive: true });
          const forget = removeOnExit(tmp); // an interrupt exits before the catch below runs
          try {
            await make(tmp, progress);
          } catch (err) {
            rmSync(tmp, { recursive: true, force: true });
            throw err;
          } finally {
            forget();
          }
          writeFileSync(path.join(tmp, ".complete"), new Date().toISOString());
          rmSync(dir, { recursive: true, force: true });
          renameSync(tmp, dir);
        });
      }
    } finally {
      await release();
    }
    return { name, dir, description };
  }
}

function runScript(script: string, args: string[], progress?: (t: string) => void): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = track(spawn("bash", [script, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
    const output: string[] = [];
    const onData = (b: Buffer) => {
      const text = b.toString();
      output.push(text);
      const last = text.trim().split("\n").pop();
      if (last) progress?.(last.slice(0, 70));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c ?? 1, output: output.join("") }));
  });
}

const memo = new Map<string, Promise<string>>();
/** `latest` → a concrete version, once per process per recipe. */
function resolveVersion(recipe: string, version: string): Promise<string> {
  const key = `${recipe}@${version}`;
  let found = memo.get(key);
  if (!found) {
    found = runScript(path.join(recipe, "resolve.sh"), [version]).then(({ code, output }) => {
      const concrete = output.trim().split("\n").pop() ?? "";
      if (code !== 0 || !concrete) {
        throw new ActionFailed(`${path.basename(recipe)}: cannot resolve ${version}: ${output.trim().split("\n").slice(-3).join(" ")}`);
      }
      return concrete;
    });
    memo.set(key, found);
  }
  return found;
}

async function build(recipe: string, version: string, out: string, progress: (t: string) => void): Promise<void> {
  const { code, output } = await runScript(path.join(recipe, "build.sh"), [version, out], progress);
  const logFile = `${out.replace(/\.tmp-\d+$/, "")}.log`;
  writeFileSync(logFile, output);
  if (code !== 0) {
    const tail = output.trim().split("\n").slice(-12).join("\n");
    throw new ActionFailed(`building ${path.basename(recipe)} ${version} failed (exit ${code}; full log ${logFile}):\n${tail}`);
  }
}

/** Downloads a tarball, refuses it unless its sha256 matches, and keeps the named binaries. */
export async function fetchTarball(url: string, sha256: string, binaries: string[], out: string): Promise<void> {
  const archive = path.join(out, ".download");
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new ActionFailed(`download of ${url} failed: HTTP ${res.status}`);
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(archive));
  const actual = createHash("sha256").update(readFileSync(archive)).digest("hex");
  if (actual !== sha256) {
    throw new ActionFailed(`checksum mismatch for ${url}: expected sha256 ${sha256}, got ${actual}; refusing to install it`);
  }
  const unpacked = path.join(out, ".unpacked");
  mkdirSync(unpacked);
  const tar = await new Promise<number>((resolve) => spawn("tar", ["-xf", archive, "-C", unpacked], { stdio: "ignore" }).on("close", (c) => resolve(c ?? 1)));
  if (tar !== 0) throw new ActionFailed(`${url} is not a tarball tar can unpack`);
  const found = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (binaries.includes(e) && !found.has(e)) found.set(e, p);
    }
  };
  walk(unpacked);
  const missing = binaries.filter((b) => !found.has(b));
  if (missing.length) throw new ActionFailed(`${url} has no ${missing.join(", ")}`);
  for (const [b, p] of found) renameSync(p, path.join(out, b));
  rmSync(unpacked, { recursive: true, force: true });
  rmSync(archive, { force: true });
}
