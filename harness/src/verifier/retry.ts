// Polling with a last chance, after the NixOS test driver's retry(): the check runs until it passes or
// the deadline passes, then once more with lastTry=true so it can report what it actually saw. The
// timeout error carries that last observation.
import { AssertionFailed } from "../errors.ts";
import { realClock, type Clock } from "../util/clock.ts";

export interface RetryOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  clock?: Clock;
}

/** A check returns true when satisfied, or false / throws with what it saw. AssertionFailed with `fatal` stops at once. */
export type Check = (lastTry: boolean) => Promise<boolean | void>;

export class FailFast extends AssertionFailed {}

export async function retry(check: Check, { what, timeoutMs, intervalMs = 500, clock = realClock }: RetryOptions): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  let last = "the check never ran";
  const attempt = async (lastTry: boolean): Promise<boolean> => {
    try {
      if ((await check(lastTry)) !== false) return true;
      last = "the check returned false";
    } catch (err) {
      if (err instanceof FailFast) throw err;
      last = (err as Error).message;
    }
    return false;
  };
  while (clock.now() < deadline) {
    if (await attempt(false)) return;
    await clock.sleep(Math.min(intervalMs, Math.max(0, deadline - clock.now())));
  }
  if (await attempt(true)) return;
  throw new AssertionFailed(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}; last attempt: ${last}`);
}
