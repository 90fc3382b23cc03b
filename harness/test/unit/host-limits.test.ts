// The inotify budget check: many systemd boxes exhaust the host's inotify instances and boot
// "degraded"; Galley says so before booting, with the command that fixes it.
import { expect } from "chai";
import { EnvironmentError } from "../../src/errors.ts";
import { checkInotifyBudget } from "../../src/drivers/docker/host-limits.ts";

describe("host limits: inotify instances", () => {
  it("passes when the free instances cover the boxes", () => {
    expect(() => checkInotifyBudget(16, { limit: () => 1024, inUse: () => 118 })).not.to.throw();
  });

  it("refuses before booting when they do not, naming the numbers and the sysctl that fixes it", () => {
    const err = (() => {
      try {
        checkInotifyBudget(16, { limit: () => 128, inUse: () => 40 });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).to.be.instanceOf(EnvironmentError);
    expect(err!.message).to.match(/88 of 128 inotify instances free .* 16 systemd boxes need about 128: they would boot "degraded"\. Raise the limit: `sudo sysctl -w fs\.inotify\.max_user_instances=1024`/);
  });

  it("checks nothing where the limit cannot be read", () => {
    expect(() => checkInotifyBudget(16, { limit: () => { throw new Error("no /proc"); }, inUse: () => 0 })).not.to.throw();
  });
});
