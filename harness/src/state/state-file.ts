// .galley/<instance>/state.json: what the driver learned (containers, IPs) and how far the lifecycle got.
// A missing file reads as a fresh instance; writes are atomic (temp file + rename), so a kill -9
// mid-write never leaves half a file.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import type { AttachedArtifact, BoxAddress } from "../contracts/attach.ts";
import type { FaultSpec } from "../contracts/faults.ts";
import { LockedError, UserError } from "../errors.ts";

export type Action = "destroy" | "create" | "converge" | "verify";

/** How to reach a box (its transport's address) and what its driver calls it. */
export interface NodeState extends Omit<BoxAddress, "name"> {
  hostname: string;
}

/** A fault in effect on a node, until a start, rejoin or resume undoes it ("paused:fleet.service": one unit frozen). */
export type ActiveFault = "crashed" | "stopped" | "isolated" | "paused" | `paused:${string}`;

/** A network fault in effect (partition, drop, degrade), until a heal. */
export interface ActiveLinkFault {
  spec: FaultSpec;
  /** ISO time it took effect. */
  since: string;
}

/** A snapshot the driver holds: when it was taken, of which converge, and what the instance was then. */
export interface SnapshotRecord {
  takenAt: string;
  /** The converge it holds (InstanceState.convergedAt at the time); absent when taken before any converge. */
  convergedAt?: string;
  /** The lifecycle step the instance had reached, and the destructive suites that had changed it. */
  lastAction?: Action;
  changedBy?: string[];
  /** How long taking it took, and the last restore (when, how long). */
  tookMs: number;
  restoredAt?: string;
  restoreMs?: number;
}

export interface InstanceState {
  instance: string;
  /** Unique per create: labels every resource of this incarnation. */
  session?: string;
  lastAction?: Action;
  lastAttempted?: Action;
  lastError?: string;
  updatedAt?: string;
  network?: { id: string; name: string };
  volumes?: string[];
  nodes: Record<string, NodeState>;
  /** Service containers (discovery service, proxy), addressed like nodes by transports. */
  services?: Record<string, NodeState>;
  /** Attributes exported by services (dotted path → value), computed once per instance. */
  exports?: Record<string, string>;
  /** Per-instance SSH key pair (private key path), generated on first need, never committed. */
  sshKey?: string;
  /** Per-node changes reported by the last converge: node → step → what changed. */
  changes?: Record<string, string[]>;
  /** The artifacts the last converge used, with their concrete versions. */
  artifacts?: Record<string, AttachedArtifact>;
  /** Faults in effect, by node (`galley list` shows them). */
  faults?: Record<string, ActiveFault[]>;
  /** Network faults in effect between nodes, in the order they were made (`galley list` shows them). */
  links?: ActiveLinkFault[];
  /** Destructive suites that changed the cluster since its last converge: the next verify converges first. */
  changedBy?: string[];
  /** When the last converge finished (ISO): a snapshot says which converge it holds. */
  convergedAt?: string;
  /** Snapshots of this create's boxes (`galley snapshot`), by name. */
  snapshots?: Record<string, SnapshotRecord>;
  /** Where the last create and converge spent their seconds (step → one line), as `galley -v` prints it. */
  timings?: Record<string, string>;
}

export function stateFile(stateDir: string) {
  return path.join(stateDir, "state.json");
}

export function readState(stateDir: string, instance: string): InstanceState {
  const file = stateFile(stateDir);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { instance, nodes: {} };
  }
  if (!text.trim()) return { instance, nodes: {} };
  try {
    return { nodes: {}, ...JSON.parse(text), instance };
  } catch (err) {
    throw new UserError(`${file}: state file is not valid JSON (${(err as Error).message}); run \`galley destroy ${instance}\` to start over`);
  }
}

export function writeState(stateDir: string, state: InstanceState): void {
  writeJsonAtomic(stateFile(stateDir), { ...state, updatedAt: new Date().toISOString() });
}

/** Temp file + rename: a reader (or a kill -9 mid-write) never sees half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, file);
}

export function removeState(stateDir: string): void {
  rmSync(stateFile(stateDir), { force: true });
}

/**
 * One Galley process per instance. The lock's owner writes its PID beside it: a lock whose owner no
 * longer exists (kill -9) is taken over at once instead of waiting for it to go stale.
 */
export async function lockInstance(stateDir: string, instance: string): Promise<() => Promise<void>> {
  mkdirSync(stateDir, { recursive: true });
  const lockPath = path.join(stateDir, "lock");
  const pidFile = path.join(stateDir, "lock.pid");
  const take = () => lockfile.lock(stateDir, { realpath: false, lockfilePath: lockPath, stale: 10_000, update: 2_000 });
  let release: () => Promise<void>;
  try {
    release = await take();
  } catch (err) {
    if ((err as { code?: string }).code !== "ELOCKED") throw err;
    const owner = Number(readFileSafe(pidFile));
    if (owner && owner !== process.pid && !alive(owner)) {
      rmSync(lockPath, { recursive: true, force: true });
      release = await take();
    } else {
      throw new LockedError(`instance ${instance} is in use by another galley process${owner ? ` (pid ${owner})` : ""}; lock: ${lockPath}`);
    }
  }
  writeFileSync(pidFile, String(process.pid));
  return async () => {
    rmSync(pidFile, { force: true });
    await release();
  };
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
