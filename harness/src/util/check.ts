// A prerequisite as `galley doctor` reports it and `galley setup` acts on it: what was found, the exact
// command that fixes it, and what setup may do about it (Debian packages to install, an action). Here,
// below every room, because drivers report their own prerequisites (Driver.prerequisites) and setup
// reports the machine's.
import { existsSync, statfsSync } from "node:fs";
import path from "node:path";

export interface Check {
  /** Short and stable: "docker engine", "debootstrap", "go". */
  name: string;
  /** "ok"; "warn": works, with a caveat; "missing": a required piece is absent or broken. */
  status: "ok" | "warn" | "missing";
  /** What was found (a version, a path, a number) or what is wrong. */
  detail: string;
  /** The command that fixes it, for a human to run. */
  fix?: string;
  /** Debian/Ubuntu packages that provide it (setup installs them with apt). */
  apt?: string[];
  /**
   * What else setup does about it: an action of the driver that reported the check (Driver.provide:
   * "start-docker", "raise-inotify"), or setup's own ("go-toolchain").
   */
  action?: string;
  /** What that action does, as setup's progress line says it: "start the Docker daemon". */
  does?: string;
}

export const MARK: Record<Check["status"], string> = { ok: "✓", warn: "!", missing: "✗" };

export function formatCheck(c: Check): string {
  const lines = [`${MARK[c.status]} ${c.name}: ${c.detail}`];
  if (c.status !== "ok" && c.fix) lines.push(`    fix: ${c.fix}`);
  return lines.join("\n");
}

/** Free bytes on the file system that holds `dir` (or its nearest existing parent). */
export function freeBytes(dir: string): number | undefined {
  let d = dir;
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  try {
    const s = statfsSync(d);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

const GiB = 1024 ** 3;
export const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;

/** Disk space: a box image, its rootfs while building, the Go toolchain and the built artifacts. */
export function diskCheck(name: string, dir: string, fixHint: string): Check {
  const free = freeBytes(dir);
  if (free === undefined) return { name, status: "warn", detail: `cannot tell the free space of ${dir}` };
  const detail = `${gib(free)} free in ${dir}`;
  if (free < 2 * GiB) return { name, status: "missing", detail: `${detail}: a box build needs about 2 GiB, with artifacts 4`, fix: fixHint };
  if (free < 4 * GiB) return { name, status: "warn", detail: `${detail}: a cold run (box, Go toolchain, fleet) needs about 4 GiB`, fix: fixHint };
  return { name, status: "ok", detail };
}
