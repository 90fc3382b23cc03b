// galley doctor's verdicts, from made-up readings: each problem comes with the command that fixes it,
// and only a missing piece (not a caveat) makes doctor fail; a driver's prerequisites are its own, and
// setup asks that driver to fix them. The whole of doctor and setup runs on a fresh machine in
// e2e/fresh-machine.test.ts (GALLEY_E2E_FRESH_MACHINE=1).
import { expect } from "chai";
import { inotifyCheck } from "../../src/drivers/docker/doctor.ts";
import { diskCheck, formatCheck } from "../../src/util/check.ts";
import type { Driver } from "../../src/drivers/driver.ts";
import { doctor, missing, report, setup } from "../../src/setup/setup.ts";
import type { Check } from "../../src/util/check.ts";

describe("galley doctor", () => {
  it("warns about a tight inotify limit with the sysctl that raises it, and setup's action", () => {
    const tight = inotifyCheck(() => 128);
    expect(tight).to.deep.include({ status: "warn", action: "raise-inotify" });
    expect(tight.detail).to.equal('fs.inotify.max_user_instances = 128: room for about 16 systemd nodes at once (each takes 8); more boot "degraded"');
    expect(tight.fix).to.match(/sysctl -w fs\.inotify\.max_user_instances=1024/);
    expect(inotifyCheck(() => 1024).status).to.equal("ok");
    expect(inotifyCheck(() => { throw new Error("no /proc"); }).status).to.equal("ok");
  });

  it("measures free disk space where the cache will be, even before it exists", () => {
    const c = diskCheck("cache disk", "/nonexistent/galley/cache", "set GALLEY_CACHE");
    expect(c.detail).to.match(/^\d+\.\d GiB free in \/nonexistent\/galley\/cache/);
  });

  it("prints fixes for what is not ok, and fails only on what is missing", () => {
    const checks = [
      { name: "docker engine", status: "ok" as const, detail: "Docker 27 at unix:///var/run/docker.sock" },
      { name: "ssh client", status: "warn" as const, detail: "not installed", fix: "apt-get install -y openssh-client" },
      { name: "debootstrap", status: "missing" as const, detail: "not installed", fix: "apt-get install -y debootstrap", apt: ["debootstrap"] },
    ];
    expect(formatCheck(checks[2]!)).to.equal("✗ debootstrap: not installed\n    fix: apt-get install -y debootstrap");
    expect(formatCheck(checks[0]!)).to.equal("✓ docker engine: Docker 27 at unix:///var/run/docker.sock");
    expect(missing(checks).map((c) => c.name)).to.deep.equal(["debootstrap"]);
    expect(report(checks)).to.match(/! ssh client: not installed\n {4}fix: apt-get install -y openssh-client\n/);
    expect(report(checks).split("\n").at(-1)).to.equal("1 missing: debootstrap (`sudo npx galley setup` installs what it can)");
    expect(report(checks.slice(0, 2)).split("\n").at(-1)).to.equal("ready: every prerequisite is there");
  });

  it("checks each driver's own prerequisites, and setup has the driver that reported one fix it", async function () {
    if (process.getuid?.() !== 0) this.skip(); // setup's actions need root
    let running = false;
    const calls: string[] = [];
    const engine = (): Check => (running
      ? { name: "fake engine", status: "ok", detail: "answers" }
      : { name: "fake engine", status: "missing", detail: "does not answer", fix: "fakectl start", action: "start-fake", does: "start the fake engine" });
    const fake = {
      name: "fake",
      prerequisites: async () => [engine()],
      provide: async (action: string) => {
        calls.push(action);
        running = true;
      },
    } as unknown as Driver;
    const disk: Check = { name: "cache disk", status: "ok", detail: "plenty" };
    expect((await doctor([fake], () => [disk])).map((c) => `${c.name}: ${c.status}`)).to.deep.equal(["fake engine: missing", "cache disk: ok"]);
    const after = await setup([fake], () => [disk]);
    expect(calls).to.deep.equal(["start-fake"]);
    expect(after.map((c) => `${c.name}: ${c.status}`)).to.deep.equal(["fake engine: ok", "cache disk: ok"]);
    // Nothing to do: setup does nothing.
    await setup([fake], () => [disk]);
    expect(calls).to.deep.equal(["start-fake"]);
  });
});
