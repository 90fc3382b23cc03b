import { expect } from "chai";
import { AssertionFailed } from "../../src/errors.ts";
import type { Clock } from "../../src/util/clock.ts";
import { eventually, FailFast, retry, TimedOut } from "../../src/util/retry.ts";

/** A clock that advances only when slept on: retry loops run instantly and deterministically. */
function fakeClock(): Clock & { slept: number } {
  let t = 0;
  return { slept: 0, now: () => t, async sleep(ms) { t += ms; this.slept += ms; } };
}

describe("retry", () => {
  it("returns as soon as the check passes", async () => {
    const clock = fakeClock();
    let calls = 0;
    await retry(async () => ++calls >= 3, { what: "x", timeoutMs: 10_000, intervalMs: 100, clock });
    expect(calls).to.equal(3);
    expect(clock.slept).to.equal(200);
  });

  it("gives the check a last try, then reports what it last saw", async () => {
    const clock = fakeClock();
    const tries: boolean[] = [];
    const err = await retry(async (lastTry) => {
      tries.push(lastTry);
      throw new Error(`saw ${tries.length} members`);
    }, { what: "3 members", timeoutMs: 1000, intervalMs: 250, clock }).catch((e) => e);
    expect(err).to.be.instanceOf(AssertionFailed);
    expect(tries.at(-1)).to.equal(true);
    expect(tries.filter((t) => t)).to.have.length(1);
    expect(err.message).to.equal(`timed out after 1.0 s waiting for 3 members; last attempt: saw ${tries.length} members`);
  });

  it("stops at once on FailFast", async () => {
    const clock = fakeClock();
    const err = await retry(async () => {
      throw new FailFast("unit failed");
    }, { what: "unit", timeoutMs: 60_000, clock }).catch((e) => e);
    expect(err.message).to.equal("unit failed");
    expect(clock.slept).to.equal(0);
  });

  it("eventually returns the value of the first attempt that does not throw", async () => {
    const clock = fakeClock();
    let n = 0;
    const value = await eventually(async () => {
      if (++n < 3) throw new Error("not yet");
      return `members after ${n} tries`;
    }, { what: "x", timeoutMs: 10_000, intervalMs: 100, clock });
    expect(value).to.equal("members after 3 tries");
  });

  it("eventually's timeout keeps the last assertion, diff fields included (never thrown away)", async () => {
    const clock = fakeClock();
    const err = await eventually(async () => {
      expect(["infra0"], "members").to.deep.equal(["infra0", "infra1"]);
    }, { what: "2 members", timeoutMs: 1000, intervalMs: 500, clock }).catch((e) => e);
    expect(err).to.be.instanceOf(TimedOut);
    expect(err.message).to.match(/^timed out after 1\.0 s waiting for 2 members; last attempt: members: expected \[ 'infra0' \] to deeply equal \[ 'infra0', 'infra1' \]/);
    expect(err.expected).to.deep.equal(["infra0", "infra1"]);
    expect(err.actual).to.deep.equal(["infra0"]);
  });
});
