// The Go toolchain the artifact recipes build with (fleet needs Go ≥ 1.22; Debian 12's is 1.19). When
// the machine has none new enough, `galley setup` gets an official one the way GOTOOLCHAIN does: the
// Go module proxy serves each release as the module golang.org/toolchain (v0.0.1-go1.26.11.linux-amd64),
// a zip checked here against its go.sum line (pinned below, as the checksum database has it) before
// it is unpacked into Galley's cache. Recipes then find it first on their PATH (artifacts/resolve.ts).
// The proxy is the machine's own: `go env GOPROXY` where some Go exists, else $GOPROXY.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EnvironmentError } from "../errors.ts";
import { cacheDir } from "../util/cache.ts";
import { onPath } from "../util/which.ts";
import { zipEntries } from "../util/zip.ts";

/** fleet's pinned go.mod says `go 1.22`. */
export const MIN_GO: GoVersion = [1, 22, 0];

/**
 * The toolchain setup fetches: new enough for every recipe here (etcd ≥ 3.7 in the matrix needs 1.26).
 * Sums: the go.sum lines of golang.org/toolchain v0.0.1-go1.26.11.<platform>, as the checksum database
 * serves them (checked when they were added, by `go mod download`).
 */
export const PINNED_TOOLCHAIN = {
  version: "go1.26.11",
  sums: {
    "linux-amd64": "h1:KyINmJ/FQdKRmDYGuTAAXkumyeR2DyUlSNHZj7XaLFg=",
    "linux-arm64": "h1:GFS9FmglLJxMwOSuun3qb8tBjpr8ibzOkt8tBrRLrnk=",
  } as Record<string, string>,
};

export const TOOLCHAIN_MODULE = "golang.org/toolchain";

export type GoVersion = [number, number, number];

/** "go1.26.11" → [1, 26, 11]; "go1.22rc1" → [1, 22, 0]. */
export function parseGoVersion(v: string): GoVersion | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

export const atLeast = (v: GoVersion, min: GoVersion): boolean => {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
};

export const showVersion = (v: GoVersion) => `go${v[0]}.${v[1]}${v[2] ? `.${v[2]}` : ""}`;

export interface GoFound {
  /** The go binary. */
  go: string;
  version: string;
  /** "PATH", "/usr/local/go (the upstream tarball's place)", "Galley's cache". */
  from: string;
  newEnough: boolean;
}

/** This machine's GOOS-GOARCH as the toolchain module names it, or undefined. */
export function hostPlatform(): string | undefined {
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string];
  return process.platform === "linux" && arch ? `linux-${arch}` : undefined;
}

/** Where setup unpacks the pinned toolchain. */
export const toolchainDir = (version = PINNED_TOOLCHAIN.version, platform = hostPlatform() ?? "unknown") =>
  cacheDir("toolchains", `${version}.${platform}`);

function goEnv(go: string, ...vars: string[]): string[] | undefined {
  try {
    return execFileSync(go, ["env", ...vars], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000, env: { ...process.env, GOTOOLCHAIN: "local" } })
      .split("\n")
      .slice(0, vars.length);
  } catch {
    return undefined;
  }
}

let found: GoFound[] | undefined;

/** Every Go this machine has, in the order recipes would use them (each with its version). Memoized. */
export function goCandidates(refresh = false): GoFound[] {
  if (found && !refresh) return found;
  const places: [string | undefined, string][] = [
    [onPath("go", false), "PATH"],
    ["/usr/local/go/bin/go", "/usr/local/go (the upstream tarball's place)"],
    [path.join(toolchainDir(), "bin", "go"), "Galley's cache (galley setup)"],
  ];
  const seen = new Set<string>();
  found = [];
  for (const [go, from] of places) {
    if (!go || seen.has(go) || !existsSync(go)) continue;
    seen.add(go);
    const version = goEnv(go, "GOVERSION")?.[0]?.trim();
    const parsed = version ? parseGoVersion(version) : undefined;
    if (version) found.push({ go, version, from, newEnough: parsed !== undefined && atLeast(parsed, MIN_GO) });
  }
  return found;
}

/** The Go the recipes build with: the first new enough one. */
export const goForRecipes = (): GoFound | undefined => goCandidates().find((g) => g.newEnough);

/**
 * PATH for a recipe run: the chosen Go's folder first (when it is not the PATH's own go already), so
 * build.sh's `go` is a new enough one.
 */
export function recipePath(base = process.env.PATH ?? ""): string {
  const go = goForRecipes();
  if (!go || go.from === "PATH") return base;
  return [path.dirname(go.go), base].filter(Boolean).join(path.delimiter);
}

/** The module proxies to ask, from the machine's Go configuration ("direct" and "off" dropped). */
export function goProxies(env: NodeJS.ProcessEnv = process.env, go: string | null = goCandidates()[0]?.go ?? null): { proxies: string[]; from: string } {
  const fromGo = go ? goEnv(go, "GOPROXY")?.[0]?.trim() : undefined;
  const setting = fromGo || env.GOPROXY || "";
  const from = fromGo ? `\`${go} env GOPROXY\`` : "GOPROXY";
  const proxies = setting.split(/[,|]/).map((p) => p.trim()).filter((p) => p && p !== "direct" && p !== "off");
  return { proxies, from };
}

/** Module path → the proxy's escaped form (upper-case letters as !lower). */
const escapePath = (p: string) => p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);

/** A module version's zip from the first proxy that has it (http(s):// or file://). */
export async function downloadModuleZip(module: string, version: string, proxies: string[]): Promise<{ zip: Buffer; url: string }> {
  const errors: string[] = [];
  for (const proxy of proxies) {
    const url = `${proxy.replace(/\/+$/, "")}/${escapePath(module)}/@v/${escapePath(version)}.zip`;
    try {
      if (url.startsWith("file://")) return { zip: readFileSync(new URL(url)), url };
      const res = await fetch(url);
      if (!res.ok) {
        errors.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      return { zip: Buffer.from(await res.arrayBuffer()), url };
    } catch (err) {
      errors.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new EnvironmentError(`cannot download ${module}@${version} from the Go module proxy: ${errors.join("; ") || "no proxy configured"}`);
}

/** go.sum's "h1:" hash from each file's name and sha256 (dirhash: `sha256  name` lines, names sorted bytewise). */
function h1(files: Map<string, string>): string {
  const names = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const summary = createHash("sha256");
  for (const name of names) summary.update(`${files.get(name)}  ${name}\n`);
  return `h1:${summary.digest("base64")}`;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The go.sum hash of a module zip. */
export function moduleZipHash(zip: Buffer, what = "module zip"): string {
  const files = new Map<string, string>();
  for (const e of zipEntries(zip, what)) if (!e.name.endsWith("/")) files.set(e.name, sha256(e.read()));
  return h1(files);
}

/**
 * Downloads a module version's zip and unpacks it into `dest` (the module@version/ prefix removed),
 * unless its go.sum hash is not `sum`: then nothing is left. `executable` says which files get mode 755.
 */
export async function fetchVerifiedModule(o: {
  module: string;
  version: string;
  sum: string;
  proxies: string[];
  dest: string;
  executable?: (rel: string) => boolean;
  progress?: (t: string) => void;
}): Promise<void> {
  o.progress?.(`downloading ${o.module}@${o.version}`);
  const { zip, url } = await downloadModuleZip(o.module, o.version, o.proxies);
  const prefix = `${o.module}@${o.version}/`;
  // Unpacked into a temporary folder while hashing (one pass over 11,000 files), renamed only if it matches.
  const tmp = `${o.dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const files = new Map<string, string>();
    for (const e of zipEntries(zip, url)) {
      if (e.name.endsWith("/")) continue;
      if (e.name.includes("\n") || !e.name.startsWith(prefix) || e.name.split("/").includes("..")) throw new EnvironmentError(`${url}: entry ${JSON.stringify(e.name)} is outside ${prefix}`);
      const data = e.read();
      files.set(e.name, sha256(data));
      const rel = e.name.slice(prefix.length);
      const file = path.join(tmp, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, data);
      // Module zips keep no modes: the toolchain's commands are made executable, as the go command does.
      chmodSync(file, o.executable?.(rel) ? 0o755 : 0o644);
      if (files.size % 1000 === 0) o.progress?.(`checking and unpacking: ${files.size} files`);
    }
    const got = h1(files);
    if (got !== o.sum) throw new EnvironmentError(`${url}: checksum mismatch: go.sum has ${o.module} ${o.version} ${o.sum}, the download hashes to ${got}; refusing to use it`);
    rmSync(o.dest, { recursive: true, force: true });
    mkdirSync(path.dirname(o.dest), { recursive: true });
    renameSync(tmp, o.dest);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The toolchain's commands: bin/* and pkg/tool/<platform>/*. */
export const toolchainExecutable = (rel: string): boolean => /^bin\/[^/]+$/.test(rel) || /^pkg\/tool\/[^/]+\/[^/]+$/.test(rel);

/**
 * Gets the pinned toolchain into Galley's cache (unless it is there) and returns it. `proxies`: the
 * machine's (goProxies()); an empty list is an error saying how to set one.
 */
export async function installGoToolchain(proxies: { proxies: string[]; from: string }, progress?: (t: string) => void): Promise<GoFound> {
  const platform = hostPlatform();
  const sum = platform && PINNED_TOOLCHAIN.sums[platform];
  if (!platform || !sum) throw new EnvironmentError(`no Go toolchain is pinned for ${process.platform}-${process.arch}: install Go ${showVersion(MIN_GO)} or newer and put it on PATH`);
  const dest = toolchainDir(PINNED_TOOLCHAIN.version, platform);
  const go = path.join(dest, "bin", "go");
  if (!existsSync(go)) {
    if (!proxies.proxies.length) {
      throw new EnvironmentError(`${proxies.from} names no Go module proxy to fetch ${PINNED_TOOLCHAIN.version} from: set GOPROXY to your module proxy, or install any Go (its \`go env GOPROXY\` is used)`);
    }
    await fetchVerifiedModule({
      module: TOOLCHAIN_MODULE,
      version: `v0.0.1-${PINNED_TOOLCHAIN.version}.${platform}`,
      sum,
      proxies: proxies.proxies,
      dest,
      executable: toolchainExecutable,
      progress,
    });
  }
  const version = goCandidates(true).find((g) => g.go === go)?.version;
  if (!version) throw new EnvironmentError(`${go} does not run after unpacking (\`${go} env GOVERSION\` failed)`);
  return { go, version, from: "Galley's cache (galley setup)", newEnough: true };
}
