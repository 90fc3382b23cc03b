// The main job, end to end: `galley test static-debian-12` on real Docker, systemd, etcd and fleet.
import { expect } from "chai";
import { galley, leftovers } from "./helpers.ts";

describe("galley test static-debian-12", function () {
  after(() => galley(["destroy", "static-debian-12"])); // a failed run keeps its instance; the next tests need it gone
  it("boots, converges and verifies the 3-node fleet cluster, then leaves nothing behind", async () => {
    const r = await galley(["test", "static-debian-12"]);
    expect(r.code, `exit code; stderr:\n${r.stderr}`).to.equal(0);
    expect(r.stderr).to.match(/✓ converge again \(idempotence\) static-debian-12/);
    expect(r.stderr).to.match(/10 checks passed on static-debian-12/);
    expect(r.stderr).to.match(/✓ destroy\s+static-debian-12/);
    expect(await leftovers("static-debian-12")).to.deep.equal([]);
    const list = await galley(["list", "static-debian-12", "--json"]);
    expect(JSON.parse(list.stdout)[0]).to.include({ instance: "static-debian-12", lastAction: "<not created>", lastError: "" });
  });
});

describe("galley test faults-debian-12", function () {
  after(() => galley(["destroy", "faults-debian-12"]));
  it("passes the fault suites (crash and reschedule, recovery, quorum, partition), then leaves nothing behind", async () => {
    const r = await galley(["test", "faults-debian-12"]);
    expect(r.code, `exit code; stderr:\n${r.stderr}`).to.equal(0);
    expect(r.stderr).to.match(/15 checks passed on faults-debian-12/);
    expect(await leftovers("faults-debian-12")).to.deep.equal([]);
  });
});
