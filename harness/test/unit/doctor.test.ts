// galley doctor's verdicts, from made-up readings: each problem comes with the command that fixes it,
// and only a missing piece (not a caveat) makes doctor fail. The whole of doctor and setup runs on a
// fresh machine in e2e/fresh-machine.test.ts.
import { expect } from "chai";
import { inotifyCheck } from "../../src/drivers/docker/doctor.ts";
import { diskCheck, formatCheck } from "../../src/setup/check.ts";
import { missing, report } from "../../src/setup/setup.ts";

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
});
