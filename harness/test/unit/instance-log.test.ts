// The instance log: one per command (the previous three kept), and a poll that logs the same thing
// over and over written once, then counted.
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { InstanceLog } from "../../src/util/instance-log.ts";

describe("instance log", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "galley-log-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const text = (f = "galley.log") => readFileSync(path.join(dir, f), "utf8").replace(/^\S+ /gm, "");

  it("starts anew for each command and keeps the previous three", () => {
    const log = new InstanceLog(dir);
    for (let run = 1; run <= 5; run++) {
      log.startRun(`galley verify (run ${run})`);
      log.write("infra0", `output of run ${run}`);
    }
    expect(text()).to.match(/^\[galley\] \$ galley verify \(run 5\) \(pid \d+\)\n\[infra0\] output of run 5\n$/);
    expect(text("galley.log.1")).to.match(/run 4/);
    expect(text("galley.log.3")).to.match(/run 2/);
    expect(existsSync(path.join(dir, "galley.log.4"))).to.equal(false);
  });

  it("writes a repeated poll once, then how many times it came again; other sources and durations do not break the run", () => {
    const log = new InstanceLog(dir);
    for (let i = 0; i < 40; i++) {
      log.write("web1 verify", `$ curl -fsS http://web0/\ncurl: (7) Failed to connect\nexit 7 (${10 + i} ms)`);
      log.write("web0 verify", "$ systemctl is-active hello\nactive\nexit 0 (3 ms)");
    }
    log.write("web1 verify", "$ curl -fsS http://web0/\nhello from web0\nexit 0 (12 ms)");
    log.flush();
    const lines = text().split("\n").filter(Boolean);
    expect(lines.filter((l) => l.startsWith("[web1 verify] $ curl"))).to.have.length(2);
    expect(lines.filter((l) => /^\[web1 verify\] … repeated 39 more times \(the last at \S+\)$/.test(l))).to.have.length(1);
    expect(lines.filter((l) => /^\[web0 verify\] … repeated 39 more times/.test(l))).to.have.length(1);
    expect(lines.indexOf(lines.find((l) => l.includes("hello from web0"))!)).to.be.greaterThan(lines.findIndex((l) => l.startsWith("[web1 verify] …")));
    expect(lines).to.have.length(3 + 3 + 1 + 3 + 1);
  });
});
