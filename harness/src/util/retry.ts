// Polling with a last chance, after the NixOS test driver's retry(): the check runs until it passes or
// the deadline passes, then once more with lastTry=true so it can report what it actually saw. The
// timeout error carries that last observation (and, for a chai assertion, its expected/actual values,
// so mocha still shows the diff).
import { AssertionFailed } from "../errors.ts";
import { realClock, type Clock } from "../util/clock.ts";

export interface RetryOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  clock?: Clock;
}

/**
 * A check passes by returning anything but false. It asks to be tried again by returning false or
 * throwing (the thrown error is what the timeout reports); it stops everything by throwing FailFast.
 */
export type Check = (lastTry: boolean) => Promise<boolean | void>;

/** Thrown by a check that can never pass (a unit that failed): retry gives up at once. */
export class FailFast extends AssertionFailed {}

/** The timeout error: the last attempt's message, and its diff fields when it was an assertion. */
export class TimedOut extends AssertionFailed {
  readonly lastError?: unknown;
  constructor(what: string, timeoutMs: number, last: unknown) {
    const lastMessage = last === undefined ? "the check never ran" : last instanceof Error ? last.message : String(last);
    super(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}; last attempt: ${lastMessage}`);
    this.lastError = last;
    const a = last as { actual?: unknown; expected?: unknown; showDiff?: boolean } | undefined;
    if (a && typeof a === "object" && "expected" in a) Object.assign(this, { actual: a.actual, expected: a.expected, showDiff: a.showDiff });
  }
}

export async function retry(check: Check, options: RetryOptions): Promise<void> {
  await eventually(async (lastTry) => {
    if ((await check(lastTry)) === false) throw new Error("the check returned false");
  }, options);
}

/**
 * Runs `attempt` until it returns without throwing, and returns its value. On timeout it throws
 * TimedOut carrying the last error (with chai's diff), so a check that waits for a state and then
 * asserts on it is one call, and what it last saw is never thrown away.
 */
export async function eventually<T>(
  attempt: (lastTry: boolean) => Promise<T>,
  { what, timeoutMs, intervalMs = 500, clock = realClock }: RetryOptions,
): Promise<T> {
  const deadline = clock.now() + timeoutMs;
  let last: unknown;
  const once = async (lastTry: boolean): Promise<{ value: T } | undefined> => {
    try {
      return { value: await attempt(lastTry) };
    } catch (err) {
      if (err instanceof FailFast) throw err;
      last = err;
      return undefined;
    }
  };
  while (clock.now() < deadline) {
    const r = await once(false);
    if (r) return r.value;
    await clock.sleep(Math.min(intervalMs, Math.max(0, deadline - clock.now())));
  }
  const r = await once(true);
  if (r) return r.value;
  throw new TimedOut(what, timeoutMs, last);
}
