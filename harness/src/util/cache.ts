// Host-side cache for boxes, built artifacts and host probes: outside the repo, shared by all checkouts.
import os from "node:os";
import path from "node:path";

export function cacheDir(...parts: string[]): string {
  const base = process.env.GALLEY_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "galley");
  return path.join(base, ...parts);
}
