// box.yml as every driver reads it: a base box, a box that extends a shipped box or a folder, what it
// inherits, when it needs an image of its own, and the errors that name file and key.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { boxHash, findBox, loadBox, SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { UserError } from "../../src/errors.ts";

describe("box definitions", () => {
  let dir: string;
  const box = (name: string, yml: string, customize?: string) => {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, "box.yml"), yml);
    if (customize !== undefined) writeFileSync(path.join(dir, name, "customize.sh"), customize);
    return path.join(dir, name);
  };
  const errorOf = (at: string): string => {
    try {
      loadBox(at);
    } catch (err) {
      expect(err).to.be.instanceOf(UserError);
      return (err as Error).message;
    }
    throw new Error("expected the box to be rejected");
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-box-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("Galley ships debian-12, found by name from anywhere", () => {
    expect(findBox("debian-12", dir)).to.equal(path.join(SHIPPED_BOXES, "debian-12"));
    const b = loadBox(findBox("debian-12", dir)!);
    expect(b).to.include({ name: "debian-12", nestedDocker: false, addsToParent: true });
    expect(b.base).to.deep.equal({ distribution: "bookworm", variant: "minbase", mirror: undefined });
  });

  it("a folder of the project wins over a shipped box of the same name", () => {
    const own = box("debian-12", "distribution: trixie\n");
    expect(findBox("debian-12", dir)).to.equal(own);
    expect(findBox("nothing-here", dir)).to.equal(undefined);
  });

  it("an extending box inherits the base's release and the parent's settings, adds packages and masks", () => {
    box("mid", "extends: debian-12\nnested_docker: true\n");
    const web = loadBox(box("web", "extends: ../mid\npackages: [lighttpd]\nmasked: [lighttpd]\n"));
    expect(web.name).to.equal("web"); // the folder's name
    expect(web.parent!.name).to.equal("mid");
    expect(web.parent!.parent!.name).to.equal("debian-12");
    expect(web.base.distribution).to.equal("bookworm");
    expect(web.nestedDocker).to.equal(true);
    expect(web.addsToParent).to.equal(true);
    // mid changes no package, mask or script: it needs no image of its own.
    expect(web.parent!.addsToParent).to.equal(false);
  });

  it("a box's fingerprint follows its parent's: changing the parent changes the child's", () => {
    const parent = box("p", "distribution: bookworm\npackages: [systemd]\n");
    const child = box("c", "extends: ../p\npackages: [jq]\n");
    const before = boxHash(loadBox(child), "1");
    expect(boxHash(loadBox(child), "1")).to.equal(before);
    writeFileSync(path.join(parent, "customize.sh"), "echo changed\n");
    expect(boxHash(loadBox(child), "1")).to.not.equal(before);
    expect(boxHash(loadBox(child), "2")).to.not.equal(boxHash(loadBox(child), "1"));
  });

  it("rejects what does not make a box, naming file and key", () => {
    expect(errorOf(box("a", "extends: debian-12\ndistribution: trixie\n"))).to.match(/a\/box\.yml: distribution: comes from the box it extends \(debian-12\)/);
    expect(errorOf(box("b", "packages: [curl]\n"))).to.match(/b\/box\.yml: distribution: is required/);
    expect(errorOf(box("c", "extends: debain-12\n"))).to.match(/c\/box\.yml: extends: box debain-12 not found: no folder .*debain-12, and Galley ships no box of that name \(shipped: debian-12\)/);
    expect(errorOf(box("d", "extends: debian-12\npackages: [Not A Package]\n"))).to.match(/d\/box\.yml: packages\.0: expected a Debian package name/);
    expect(errorOf(box("e", "extends: debian-12\npackage: [curl]\n"))).to.match(/e\/box\.yml: \(top level\): Unrecognized key: "package"/);
    box("loop1", "extends: ../loop2\n");
    expect(errorOf(box("loop2", "extends: ../loop1\n"))).to.match(/extends: a box cannot extend itself/);
  });
});
