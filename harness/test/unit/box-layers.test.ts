// A Debian box's layers are tagged by what each is made of, so a change rebuilds from the layer it
// touches and no lower; the image namespace and the bootstrap tool come from the environment.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadBox } from "../../src/boxes/definition.ts";
import { boxRepository, imageOf } from "../../src/drivers/docker/box.ts";
import { bootstrapTool, layersOf } from "../../src/drivers/docker/debian-layers.ts";
import { EnvironmentError } from "../../src/errors.ts";

describe("Debian box layers", () => {
  let dir: string;
  const box = (yml: string, customize?: string) => {
    mkdirSync(path.join(dir, "b"), { recursive: true });
    writeFileSync(path.join(dir, "b", "box.yml"), yml);
    if (customize !== undefined) writeFileSync(path.join(dir, "b", "customize.sh"), customize);
    const b = loadBox(path.join(dir, "b"));
    return layersOf(b, "galley-box", "2", imageOf(b), "amd64");
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-layers-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a package list change rebuilds the packages and box layers, never the system layer", () => {
    const before = box("name: web\ndistribution: bookworm\nmirror: http://mirror.invalid/debian\npackages: [less]\n");
    const after = box("name: web\ndistribution: bookworm\nmirror: http://mirror.invalid/debian\npackages: [less, procps]\n");
    expect(after.system).to.equal(before.system).and.match(/^galley-box\/system-bookworm-minbase:[0-9a-f]{12}$/);
    expect(after.packages).to.match(/^galley-box\/web-packages:[0-9a-f]{12}$/).and.not.equal(before.packages);
    expect(after.box).to.not.equal(before.box);
  });

  it("a customize.sh or mask change rebuilds the box layer only", () => {
    const before = box("name: web\ndistribution: bookworm\nmirror: http://mirror.invalid/debian\npackages: [less]\n", "echo one\n");
    const script = box("name: web\ndistribution: bookworm\nmirror: http://mirror.invalid/debian\npackages: [less]\n", "echo two\n");
    const masked = box("name: web\ndistribution: bookworm\nmirror: http://mirror.invalid/debian\npackages: [less]\nmasked: [cron]\n", "echo two\n");
    expect([script.system, script.packages]).to.deep.equal([before.system, before.packages]);
    expect([masked.system, masked.packages]).to.deep.equal([before.system, before.packages]);
    expect(new Set([before.box, script.box, masked.box]).size).to.equal(3);
  });

  it("the system layer is the release's: another release, variant or mirror is another layer; a box without packages has no packages layer", () => {
    const base = box("distribution: bookworm\nmirror: http://mirror.invalid/debian\n");
    expect(base.packages).to.equal(undefined);
    const others = [
      box("distribution: trixie\nmirror: http://mirror.invalid/debian\n"),
      box("distribution: bookworm\nvariant: buildd\nmirror: http://mirror.invalid/debian\n"),
      box("distribution: bookworm\nmirror: http://other.invalid/debian\n"),
    ];
    expect(new Set([base.system, ...others.map((o) => o.system)]).size).to.equal(4);
  });

  it("GALLEY_BOX_IMAGES names the image namespace (a benchmark's private one); a bad value is refused by name", () => {
    expect(boxRepository({})).to.equal("galley-box");
    expect(boxRepository({ GALLEY_BOX_IMAGES: "galley-bench-1" })).to.equal("galley-bench-1");
    expect(() => boxRepository({ GALLEY_BOX_IMAGES: "Bad Name" })).to.throw(EnvironmentError, /GALLEY_BOX_IMAGES=Bad Name: expected an image repository prefix/);
  });

  it("GALLEY_BOOTSTRAP picks the bootstrap tool; anything else is refused by name", () => {
    expect(bootstrapTool("minbase", () => true, { GALLEY_BOOTSTRAP: "debootstrap" })).to.equal("debootstrap");
    expect(bootstrapTool("minbase", () => false, { GALLEY_BOOTSTRAP: "mmdebstrap" })).to.equal("mmdebstrap");
    expect(bootstrapTool("minbase", () => true, {})).to.equal("mmdebstrap");
    expect(() => bootstrapTool("minbase", () => true, { GALLEY_BOOTSTRAP: "cdebootstrap" })).to.throw(EnvironmentError, /GALLEY_BOOTSTRAP=cdebootstrap: expected mmdebstrap or debootstrap/);
  });
});
