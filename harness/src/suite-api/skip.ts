// Skips that say why. A check skipped without a reason (a bare this.skip(), it.skip) fails the
// verification: a green run must not hide a check that never ran. skipIf marks the running test (or,
// from a hook, its whole suite) with the reason; the mocha runner reads it back.
import type { Context } from "mocha";

export const SKIP_REASON = Symbol.for("galley.skipReason");

/** Skips the current check (or, in a before hook, the suite) when `condition` holds, saying why. */
export function skipIf(ctx: Context, condition: boolean, reason: string): void {
  if (!condition) return;
  const runnable = ctx.test;
  // In a hook, ctx.test is the hook: the reason belongs to the suite whose checks it skips.
  const target = runnable && (runnable as { type?: string }).type === "hook" ? runnable.parent : runnable;
  if (target) (target as unknown as Record<symbol, string>)[SKIP_REASON] = reason;
  ctx.skip();
}

/** The reason given for skipping a test: its own, or the nearest suite's. */
export function skipReasonOf(test: { parent?: unknown }): string | undefined {
  for (let at: unknown = test; at; at = (at as { parent?: unknown }).parent) {
    const reason = (at as Record<symbol, string | undefined>)[SKIP_REASON];
    if (reason) return reason;
  }
  return undefined;
}
