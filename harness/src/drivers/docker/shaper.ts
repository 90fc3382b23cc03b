// galley-netshaper (harness/tools/netshaper): netem's delay, jitter, loss, duplicate, reorder and rate in
// user space, over NFQUEUE. Kernels built without sch_netem (this project's CI kernel among them) can
// still queue packets to a program, so degraded links work the same on every host. Built once with the
// host's Go (fleet's recipe needs it too), cached by the source's hash; started inside a node's network
// namespace with nsenter, found again by its command line, stopped (every held packet released) on heal.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EnvironmentError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { procFile, processIds } from "../../util/proc.ts";

const SOURCE = fileURLToPath(new URL("../../../tools/netshaper/", import.meta.url));
export const SHAPER_NAME = "galley-netshaper";
/** The NFQUEUE number in each node's namespace, and the mark its own duplicates carry past the queue rule. */
export const SHAPER_QUEUE = 4711;
export const SHAPER_MARK = 0x4711;

let built: string | undefined;

/** The shaper binary, built on first use (a few seconds) and cached under ~/.cache/galley/tools. */
export function shaperBinary(): string {
  if (built) return built;
  const hash = createHash("sha256");
  for (const f of ["go.mod", "main.go"]) hash.update(readFileSync(path.join(SOURCE, f)));
  const out = cacheDir("tools", `${SHAPER_NAME}-${hash.digest("hex").slice(0, 12)}`);
  if (!existsSync(out)) {
    const go = findGo();
    mkdirSync(path.dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
    const r = spawnSync(go, ["build", "-trimpath", "-o", tmp, "."], {
      cwd: SOURCE,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOWORK: "off" },
      encoding: "utf8",
    });
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      throw new EnvironmentError(`building ${SHAPER_NAME} (degraded links) with ${go} failed (exit ${r.status}):\n${(r.stderr || r.stdout || String(r.error)).trim()}`);
    }
    renameSync(tmp, out);
  }
  built = out;
  return out;
}

function findGo(): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/local/go/bin"]) {
    const go = path.join(dir, "go");
    if (dir && existsSync(go)) return go;
  }
  throw new EnvironmentError(`degraded links need Go ≥ 1.22 on the host to build ${SHAPER_NAME} once (it is not on PATH nor in /usr/local/go/bin); fleet's recipe needs it too`);
}

export interface ShaperConfig {
  seed: number;
  mark: number;
  rules: { to: string; delayMs: number; jitterMs: number; loss: number; duplicate: number; reorder: number; rateBps: number }[];
}

/** Where a shaper's output goes while it runs (read back and removed when it is stopped). */
export function shaperLog(owner: string): string {
  return cacheDir("run", `${SHAPER_NAME}-${owner.replace(/[^\w.-]+/g, "_")}.log`);
}

/**
 * Starts a shaper in the network namespace of `pid` (a node's init), detached: it outlives this process
 * (a `galley fault degrade` returns while the link stays degraded) and exits by itself when the node goes.
 */
export function startShaper(pid: number, owner: string, config: ShaperConfig): number {
  const bin = shaperBinary();
  const logFile = shaperLog(owner);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, "w");
  try {
    const child = spawn("nsenter", ["-t", String(pid), "-n", "--", bin, "--queue", String(SHAPER_QUEUE), "--config", "-", "--watch-pid", String(pid), "--owner", owner], {
      detached: true,
      stdio: ["pipe", log, log],
    });
    child.stdin!.end(JSON.stringify(config));
    child.unref();
    return child.pid!;
  } finally {
    closeSync(log);
  }
}

/** Shapers running for an owner ("<project>/<instance>/<node>", a prefix of it, or "" for all): their pids. */
export function shapersOf(ownerPrefix: string): number[] {
  const out: number[] = [];
  for (const e of processIds()) {
    const argv = procFile(e, "cmdline")?.split("\0");
    if (!argv) continue;
    // nsenter execs the shaper: the process is the shaper itself, its argv[0] our binary.
    if (!path.basename(argv[0] ?? "").startsWith(SHAPER_NAME)) continue;
    const owner = argv[argv.indexOf("--owner") + 1] ?? "";
    if (!ownerPrefix || owner === ownerPrefix || owner.startsWith(`${ownerPrefix}/`)) out.push(e);
  }
  return out;
}

/** SIGTERM (the shaper releases what it holds and exits), then waits for the processes to go. */
export async function stopShapers(pids: number[], timeoutMs = 5000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      /* gone already */
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const pid of pids) {
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, its parent gone or not waiting) counts as gone.
    const stat = procFile(pid, "stat");
    return stat !== undefined && !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
