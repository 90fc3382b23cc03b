// Artifacts: binaries built or fetched on the host once, cached by content, and copied into every node
// (to /var/lib/galley/artifacts/<name>/).
// - build / debian / go: a recipe folder's build.sh VERSION OUTDIR (its resolve.sh, if any, first turns
//   `latest` into a concrete version). Cached by the recipe's content plus the concrete version, so
//   editing a go.mod rebuilds and nothing else does. The recipes verify what they fetch.
// - url: a release tarball, checked against its sha256 before anything is unpacked (the article's ark).
// - path: binaries the user already has.
// Every artifact also says which version it is (the matrix compares that with what the nodes run): the
// VERSION file its recipe wrote (the concrete version: the .deb's upstream version, the resolved tag),
// else, for a path or url artifact, what its binaries say (the Go module compiled in, or `--version`).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import lockfile from "proper-lockfile";
import { ActionFailed, CommandFailed, UserError } from "../errors.ts";
import { tail } from "../util/lines.ts";
import type { ArtifactSpec } from "../config/schema.ts";
import { parseBuildInfo } from "../util/buildinfo.ts";
import { cacheDir } from "../util/cache.ts";
import { track } from "../util/children.ts";
import { removeOnExit } from "../util/temp-dirs.ts";
import { task } from "../util/ui.ts";
import { goForRecipes, MIN_GO, recipePath, showVersion } from "../toolchains/go.ts";

export interface ResolvedArtifact {
  name: string;
  dir: string;
  /** e.g. "etcd v3.6.16" (the concrete version, after `latest` was resolved). */
  description: string;
  /** The concrete version the artifact is ("3.6.16", without a leading v); undefined when unknown. */
  version?: string;
  /** Where `version` comes from ("VERSION file", "Go module of etcd", "etcd --version"), or why it is unknown. */
  versionFrom: string;
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
    return { name, dir, description: `${name} from ${dir}`, ...(await versionOf(dir)) };
  }
  if (spec.source === "url") {
    const dir = cacheDir("artifacts", name, `url-${spec.sha256.slice(0, 16)}`);
    const fetched = await cached(name, dir, `${name} from ${spec.url}`, (out) => fetchTarball(spec.url, spec.sha256, spec.binaries, out), "fetch");
    return { ...fetched, ...(await versionOf(dir)) };
  }
  const recipe = path.resolve(spec.base, spec.recipe);
  const version = existsSync(path.join(recipe, "resolve.sh")) ? await resolveVersion(recipe, spec.version) : spec.version;
  const key = hashTree(recipe).update(version).digest("hex").slice(0, 16);
  const dir = cacheDir("artifacts", name, `${version}-${key}`);
  const built = await cached(name, dir, `${name} ${version}`, (out, progress) => build(recipe, version, out, progress));
  return { ...built, ...(await versionOf(dir)) };
}

const VERSION_FILE = "VERSION";
const known = new Map<string, Promise<Pick<ResolvedArtifact, "version" | "versionFrom">>>();
const normalize = (v: string) => v.trim().replace(/^v(?=\d)/, "").replace(/\+incompatible$/, "");

/**
 * The version an artifact folder holds: its VERSION file (what a recipe wrote, or what the owner of a
 * path artifact states), else what its binaries say: the version of the Go module compiled into them,
 * else the version their `--version` prints. Binaries that disagree leave it unknown, saying so.
 */
export function versionOf(dir: string): Promise<Pick<ResolvedArtifact, "version" | "versionFrom">> {
  let found = known.get(dir);
  if (!found) {
    found = detect(dir);
    known.set(dir, found);
  }
  return found;
}

async function detect(dir: string): Promise<Pick<ResolvedArtifact, "version" | "versionFrom">> {
  const file = path.join(dir, VERSION_FILE);
  if (existsSync(file)) {
    const v = normalize(readFileSync(file, "utf8").split("\n")[0] ?? "");
    return v ? { version: v, versionFrom: `${VERSION_FILE} file` } : { versionFrom: `${file} is empty` };
  }
  const said: { binary: string; version: string; from: string }[] = [];
  const binaries = readdirSync(dir).filter((e) => !e.startsWith(".") && statSync(path.join(dir, e)).isFile() && (statSync(path.join(dir, e)).mode & 0o111) !== 0).sort();
  for (const b of binaries) {
    const main = parseBuildInfo(readFileSync(path.join(dir, b)))?.main;
    if (main?.version && main.version !== "(devel)") {
      said.push({ binary: b, version: normalize(main.version), from: `Go module of ${b}` });
      continue;
    }
    const out = await runBinary(path.join(dir, b), ["--version"]);
    const v = /\bversion:?\s+v?(\d+\.\d+\.\d+[^\s,]*)/i.exec(out)?.[1];
    if (v) said.push({ binary: b, version: normalize(v), from: `${b} --version` });
  }
  const versions = [...new Set(said.map((s) => s.version))];
  if (versions.length === 1) return { version: versions[0], versionFrom: said.map((s) => s.from).join(", ") };
  if (!versions.length) return { versionFrom: `no ${VERSION_FILE} file in ${dir} and no version in its binaries (${binaries.join(", ") || "none"})` };
  return { versionFrom: `no ${VERSION_FILE} file in ${dir}, and its binaries disagree: ${said.map((s) => `${s.binary} ${s.version}`).join(", ")}` };
}

/** Output of a binary run briefly on the host (a version query); empty when it fails or hangs. */
function runBinary(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = track(spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000, killSignal: "SIGKILL" }));
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b));
    child.stderr.on("data", (b: Buffer) => (out += b));
    child.on("error", () => resolve(""));
    child.on("close", () => resolve(out));
  });
}

type Built = Omit<ResolvedArtifact, "version" | "versionFrom">;
const inflight = new Map<string, Promise<Built>>();

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
): Promise<Built> {
  let p = inflight.get(dir);
  if (!p) {
    p = buildOnce();
    inflight.set(dir, p);
    // A failed build may be retried by a later call (a fixed recipe, a network blip).
    p.catch(() => inflight.delete(dir));
  }
  return p;

  async function buildOnce(): Promise<Built> {
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
    // A new enough Go first on PATH (the machine's, or the toolchain `galley setup` cached).
    const env = { ...process.env, PATH: recipePath() };
    const child = track(spawn("bash", [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env }));
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
        throw new CommandFailed({ node: "(host)", command: `${path.basename(recipe)}/resolve.sh ${version}`, exitCode: code || 1, outputTail: tail(output, 3) || "(printed no version)" });
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
    const noGo = /\bgo(: command)? not found/.test(output) && !goForRecipes() ? `\n(no Go ${showVersion(MIN_GO)} or newer on this machine: \`npx galley setup\` gets one)` : "";
    throw new CommandFailed({ node: "(host)", command: `${path.basename(recipe)}/build.sh ${version} (full log ${logFile})`, exitCode: code, outputTail: tail(output, 12) + noGo });
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
