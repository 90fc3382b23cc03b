// Interrupted and killed runs: Galley stops promptly, saves state, says how to go on, and nothing it
// made survives `galley destroy` — even when the state files are gone.
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

const instance = "static-debian-12";
const stateDir = path.join(repo, ".galley", instance);

describe("interrupting galley", function () {
  before(() => galley(["destroy", instance]));
  afterEach(async () => {
    await galley(["destroy", instance]);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  for (const [signal, step, pattern] of [
    ["SIGTERM", "create", /booting 3 nodes/],
    ["SIGINT", "converge", /provisioning 3 nodes/],
  ] as const) {
    it(`${signal} during ${step}: exits 130 promptly, saves state and says how to resume or destroy`, async () => {
      let child: ChildProcess | undefined;
      let signalledAt = 0;
      const watch = setInterval(() => { if (!signalledAt && child?.killed) signalledAt = Date.now(); }, 10);
      const r = await galley(["converge", instance], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern, signal }, onSpawn: (c) => (child = c) });
      clearInterval(watch);
      expect(r.code, r.stderr).to.equal(130);
      expect(Date.now() - signalledAt, "ms from the signal to the exit").to.be.lessThan(3000);
      expect(r.stderr).to.include(`${signal}: stopped ${instance} during ${step}; state saved.`);
      expect(r.stderr).to.include(`resume: galley converge ${instance}`);
      expect(r.stderr).to.include(`clean up: galley destroy ${instance}`);
      const state = JSON.parse(readFileSync(path.join(stateDir, "state.json"), "utf8"));
      expect(state.lastError).to.equal(`interrupted (${signal}) during ${step}`);
    });
  }

  it("kill -9 mid-converge, state files deleted: galley destroy all still removes everything", async () => {
    const r = await galley(["converge", instance], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern: /provisioning 3 nodes/, signal: "SIGKILL" } });
    expect(r.signal).to.equal("SIGKILL");
    expect(await leftovers(instance), "resources exist before the cleanup").to.not.deep.equal([]);
    rmSync(path.join(repo, ".galley"), { recursive: true, force: true });
    const d = await galley(["destroy", "all"]);
    expect(d.code, d.stderr).to.equal(0);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("a second galley on the same instance gets a clear lock error; after a kill -9 the lock is taken over at once", async () => {
    let child: ChildProcess | undefined;
    const first = galley(["create", instance], { onSpawn: (c) => (child = c) });
    // Wait until the first holds the lock (its pid file names it), then try a second.
    const pidFile = path.join(stateDir, "lock.pid");
    const deadline = Date.now() + 30_000;
    while (!(existsSync(pidFile) && readFileSync(pidFile, "utf8") === String(child?.pid)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await galley(["verify", instance]);
    expect(second.code, second.stderr).to.equal(20);
    expect(second.stderr).to.match(new RegExp(`galley: instance ${instance} is in use by another galley process \\(pid ${child!.pid}\\)`));
    child!.kill("SIGKILL");
    expect((await first).signal).to.equal("SIGKILL");
    const list = await galley(["destroy", instance]);
    expect(list.code, `lock of a dead process is taken over: ${list.stderr}`).to.equal(0);
  });
});
