// A Debian box is built in cached layers: editing its package list rebuilds the packages layer and the
// box's own layer on the same system layer, and editing customize.sh rebuilds the box's layer only. The
// box then has no customize.sh at all, and a node of it must still boot "running": Galley's own
// container set-up (masks, SSH host keys) is in every box. The system layer is the shared one of
// Debian 12 (built here if this machine has none yet: about a minute more); the box's own images and
// the node are removed afterwards.
import { expect } from "chai";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { loadBox } from "../../src/boxes/definition.ts";
import { ensureBox, layerTags } from "../../src/drivers/docker/box.ts";
import { galley, writeOneBoxProject } from "./helpers.ts";

describe("box layers: a change rebuilds from the layer it touches, never the system layer below", function () {
  this.timeout(5 * 60_000);
  const d = new Docker();
  const name = `e2e-layers-${process.pid}`;
  const savedCache = process.env.GALLEY_CACHE;
  let dir: string;
  const define = (packages: string[], customize?: string) => {
    writeFileSync(path.join(dir, "box", "box.yml"), `name: ${name}\ndistribution: bookworm\npackages: [${packages.join(", ")}]\n`);
    if (customize === undefined) rmSync(path.join(dir, "box", "customize.sh"), { force: true });
    else writeFileSync(path.join(dir, "box", "customize.sh"), customize);
    return loadBox(path.join(dir, "box"));
  };
  const run = (args: string[]) => galley(["--config", path.join(dir, "galley.yml"), ...args]);
  const idOf = (tag: string) => d.getImage(tag).inspect().then((i) => i.Id);
  /** The image ids an image is built on (its own included), from Docker's history. */
  const chain = async (tag: string) => new Set((await d.getImage(tag).history()).map((h: { Id: string }) => h.Id).filter((id: string) => id !== "<missing>"));
  const buildLog = () => readFileSync(path.join(process.env.GALLEY_CACHE!, "boxes", `${name}.log`), "utf8");

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-e2e-layers-"));
    writeOneBoxProject(dir, "layers", "boot");
    // The build's log, lock and .deb cache in a folder of the test's own.
    process.env.GALLEY_CACHE = path.join(dir, "cache");
  });
  after(async () => {
    await run(["destroy", "boot-layers"]);
    if (savedCache === undefined) delete process.env.GALLEY_CACHE;
    else process.env.GALLEY_CACHE = savedCache;
    const ours = (await d.listImages()).filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`galley-box/${name}`)));
    // The box's image before its packages layer: a layer another image is built on cannot go first.
    for (const img of ours.sort((a, b) => b.Created - a.Created)) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it("packages: new packages and box layers on the same system layer; customize.sh: a new box layer on the same packages layer", async () => {
    const first = define(["less"], "echo one > /etc/galley-e2e-layer\n");
    const firstTags = layerTags(first);
    await ensureBox(first);
    const system = await idOf(firstTags.system);
    const firstPackages = await idOf(firstTags.packages!);
    expect([...(await chain(firstTags.box))]).to.include.members([system, firstPackages]);

    const second = define(["less", "openssh-server"], "echo one > /etc/galley-e2e-layer\n");
    const secondTags = layerTags(second);
    expect(secondTags.system, "the system layer's tag").to.equal(firstTags.system);
    expect(secondTags.packages).to.not.equal(firstTags.packages);
    await ensureBox(second);
    const log = buildLog();
    expect(log, "the second build bootstrapped again").to.not.match(/^I: (running apt-get update|Retrieving|downloading packages)/m);
    expect(log, "the second build's log").to.match(/Setting up openssh-server/);
    expect(await idOf(secondTags.system), "the system layer's image").to.equal(system);
    const secondPackages = await idOf(secondTags.packages!);
    expect(secondPackages).to.not.equal(firstPackages);
    expect([...(await chain(secondTags.box))], "the new box's layers").to.include.members([system, secondPackages]);

    const third = define(["less", "openssh-server"]);
    const thirdTags = layerTags(third);
    expect(thirdTags.packages).to.equal(secondTags.packages);
    await ensureBox(third);
    expect(buildLog(), "the third build's log").to.not.match(/Setting up openssh-server/);
    expect(await idOf(thirdTags.packages!)).to.equal(secondPackages);
    expect([...(await chain(thirdTags.box))]).to.include.members([system, secondPackages]);
    expect(thirdTags.box).to.not.equal(secondTags.box);
    // Older images of the box went (the first packages layer and both older box images).
    const left = (await d.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`galley-box/${name}`)).sort();
    expect(left).to.deep.equal([thirdTags.box, thirdTags.packages].sort());
    const tmp = path.join(process.env.GALLEY_CACHE!, "tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : [], "rootfs or build context left in the cache").to.deep.equal([]);
  });

  it("a box without customize.sh boots \"running\" (no unit failed), with SSH host keys of its own", async () => {
    const created = await run(["create", "boot-layers"]);
    expect(created.code, created.stderr).to.equal(0);
    const keys = await run(["exec", "boot-layers", "--", "systemctl is-system-running; ls /etc/ssh/ssh_host_ed25519_key"]);
    expect(keys.code, keys.stdout + keys.stderr).to.equal(0);
    expect(keys.stdout).to.match(/running/).and.match(/ssh_host_ed25519_key/);
  });
});
