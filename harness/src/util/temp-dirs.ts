// Temporary folders in the cache (a box's rootfs, an artifact's build output) must not outlive a
// failed or interrupted run: an interrupt ends the process with process.exit, before any `finally`
// of the build that made them has run, so they are removed again in the process's exit hook.
import { rmSync } from "node:fs";

const pending = new Map<string, () => void>();
let hooked = false;

/** Removes `dir` (after `before`, e.g. unmounting) when the process exits; the returned function forgets it. */
export function removeOnExit(dir: string, before?: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const [d, b] of pending) {
        try {
          b();
          rmSync(d, { recursive: true, force: true, maxRetries: 3 });
        } catch {
          /* exiting anyway; the next build under the same lock removes stale folders */
        }
      }
    });
  }
  pending.set(dir, () => before?.());
  return () => pending.delete(dir);
}
