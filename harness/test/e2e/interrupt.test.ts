// Interrupted and killed runs: Galley stops promptly, saves state, says how to go on, and nothing it
// made survives `galley destroy` — even when the state files are gone. "Nothing" is checked on the
// whole host: every container, network and volume, the processes the runs started (a verifier, a build
// script and its `go`), the cgroups, and the cache's temporary folders.
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { galley, LeakWatch, leftovers, processesMatching, repo, writeOneBoxProject } from "./helpers.ts";

const instance = "static-debian-12";
const stateDir = path.join(repo, ".galley", instance);

describe("interrupting galley", function () {
  let watch: LeakWatch;
  before(() => galley(["destroy", instance]));
  beforeEach(async () => {
    watch = await LeakWatch.start();
  });
  afterEach(async () => {
    await galley(["destroy", instance]);
    expect(await watch.leftovers(), "new on the host since the test began").to.deep.equal([]);
  });

  for (const [signal, step, pattern] of [
    ["SIGTERM", "create", /booting 3 nodes/],
    ["SIGINT", "converge", /provisioning 3 nodes/],
  ] as const) {
    it(`${signal} during ${step}: exits 130 promptly, saves state and says how to resume or destroy`, async () => {
      let child: ChildProcess | undefined;
      let signalledAt = 0;
      const watchKill = setInterval(() => { if (!signalledAt && child?.killed) signalledAt = Date.now(); }, 10);
      const r = await galley(["converge", instance], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern, signal }, onSpawn: (c) => (child = c) });
      clearInterval(watchKill);
      expect(r.code, r.stderr).to.equal(130);
      expect(Date.now() - signalledAt, "ms from the signal to the exit").to.be.lessThan(3000);
      expect(r.stderr).to.include(`${signal}: stopped ${instance} during ${step}; state saved.`);
      expect(r.stderr).to.include(`resume: galley converge ${instance}`);
      expect(r.stderr).to.include(`clean up: galley destroy ${instance}`);
      const state = JSON.parse(readFileSync(path.join(stateDir, "state.json"), "utf8"));
      expect(state.lastError).to.equal(`interrupted (${signal}) during ${step}`);
    });
  }

  it("SIGINT during verify: the mocha verifier stops with galley", async () => {
    const c = await galley(["converge", instance]);
    expect(c.code, c.stderr).to.equal(0);
    let child: ChildProcess | undefined;
    const run = galley(["verify", instance], { onSpawn: (ch) => (child = ch) });
    // Interrupt once the verifier runs as galley's child.
    const verifier = await waitFor(() => processesMatching((p) => p.cmd.includes("verifiers/mocha/child.ts") && p.ppid === child?.pid)[0], 30_000);
    child!.kill("SIGINT");
    const r = await run;
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr).to.include(`SIGINT: stopped ${instance} during verify; state saved.`);
    expect(processesMatching((p) => p.pid === verifier.pid), "the verifier after galley exited").to.deep.equal([]);
  });

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

// An artifact recipe whose build.sh writes part of its output and then runs a long child, the way
// fleet's runs `go build`, and takes a moment to stop: an interrupt must stop both and leave no
// temporary folder in the cache, though galley exits before the build has stopped.
describe("interrupting an artifact build", function () {
  let dir: string;
  let watch: LeakWatch;
  const slowInstance = "slowbuild-debian-12";
  const cache = () => path.join(dir, "cache");
  const run = (args: string[], o: Parameters<typeof galley>[1] = {}) =>
    galley(["--config", path.join(dir, "galley.yml"), ...args], { ...o, env: { GALLEY_CACHE: cache(), ...o.env } });

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-e2e-build-"));
    mkdirSync(path.join(dir, "provision"));
    writeFileSync(path.join(dir, "provision", "provision.sh"), "true\n");
    mkdirSync(path.join(dir, "recipe"));
    writeFileSync(path.join(dir, "recipe", "build.sh"), [
      "#!/bin/bash",
      "set -e",
      'echo half-built > "$2/partial"',
      // Like a real build, it takes a moment to stop: galley exits before it does.
      "trap 'sleep 1; exit 143' TERM INT",
      "echo 'stand-in for go build: started'",
      "sleep 600 &",
      "wait $!",
      "",
    ].join("\n"));
    chmodSync(path.join(dir, "recipe", "build.sh"), 0o755);
    writeFileSync(path.join(dir, "galley.yml"), [
      "driver: docker",
      `provisioner: { name: shell, path: provision, script: provision.sh }`,
      `verifier: { name: mocha, suites: ${path.join(repo, "suites", "fleet-cluster")} }`,
      "artifacts:",
      "  slow: { source: build, recipe: recipe, version: v1 }",
      "platforms:",
      `  - { name: debian-12, box: ${path.join(repo, "boxes", "fleet-node")} }`,
      "suites:",
      "  - { name: slowbuild, nodes: 1 }",
      "",
    ].join("\n"));
  });
  beforeEach(async () => {
    watch = await LeakWatch.start([dir]);
  });
  after(async () => {
    await run(["destroy", slowInstance]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("SIGINT while build.sh runs its long child: both stop, the half-built folder goes, destroy leaves nothing", async () => {
    const r = await run(["converge", slowInstance], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern: /stand-in for go build: started/, signal: "SIGINT" } });
    expect(r.code, r.stderr).to.equal(130);
    const artifacts = path.join(cache(), "artifacts", "slow");
    expect(existsSync(artifacts) ? readdirSync(artifacts).filter((f) => f.includes(".tmp-")) : [], "temporary build folders in the cache").to.deep.equal([]);
    const d = await run(["destroy", slowInstance]);
    expect(d.code, d.stderr).to.equal(0);
    const left = await watch.leftovers();
    expect(left, `new on the host since the test began (build.sh, its sleep, the node):\n${left.join("\n")}`).to.deep.equal([]);
  });
});

// A box that is not built yet (its own definition, a cache of its own): an interrupt while mmdebstrap
// (or debootstrap) runs stops it and what it started, and removes the half-made rootfs.
describe("interrupting a box build", function () {
  let dir: string;
  let watch: LeakWatch;
  const run = (args: string[], o: Parameters<typeof galley>[1] = {}) =>
    galley(["--config", path.join(dir, "galley.yml"), ...args], { ...o, env: { GALLEY_CACHE: path.join(dir, "cache"), GALLEY_BOX_IMAGES: images, ...o.env } });
  // Images of its own too: the shared Debian 12 system layer would otherwise skip the bootstrap.
  const images = `galley-e2e-interrupted-${process.pid}`;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-e2e-box-"));
    writeOneBoxProject(dir, "tmpbox", "boxbuild");
    // A name and content of its own: never the shared debian-12 image.
    writeFileSync(path.join(dir, "box", "box.yml"), `name: e2e-interrupted-${process.pid}\ndistribution: bookworm\npackages: [systemd, systemd-sysv, dbus]\n`);
  });
  beforeEach(async () => {
    watch = await LeakWatch.start([dir]);
  });
  after(async () => {
    await run(["destroy", "boxbuild-tmpbox"]);
    rmSync(dir, { recursive: true, force: true });
    // Even when the test failed (the interrupt came after the build), its image does not stay.
    const d = new Docker();
    for (const i of await d.listImages({ filters: { reference: [`galley-box/e2e-interrupted-${process.pid}`] } })) await d.getImage(i.Id).remove({ force: true });
  });

  it("SIGINT during the rootfs build (mmdebstrap, or debootstrap where it is missing): it and its children stop, the rootfs goes, no image is left", async () => {
    // Galley prefixes the bootstrap tool's output with its name; mmdebstrap's apt download runs children.
    const r = await run(["create", "boxbuild-tmpbox"], { env: { GALLEY_VERBOSE: "1" }, signalAfter: { pattern: /mmdebstrap: downloading packages|debootstrap: /, signal: "SIGINT" } });
    expect(r.code, r.stderr).to.equal(130);
    const tmp = path.join(dir, "cache", "tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : [], "half-made rootfs in the cache").to.deep.equal([]);
    const left = await watch.leftovers();
    expect(left, `new on the host since the test began:\n${left.join("\n")}`).to.deep.equal([]);
    const boxImages = (await new Docker().listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${images}/`));
    expect(boxImages, "box images").to.deep.equal([]);
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
