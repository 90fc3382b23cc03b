// box.yml as every driver reads it: a base box, a box that extends a shipped box or a folder, what it
// inherits, when it needs an image of its own, and the errors that name file and key.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { boxHash, findBox, loadBox, SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { customizeStep } from "../../src/drivers/docker/build-steps.ts";
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
    expect(b.base).to.deep.equal({ kind: "debootstrap", distribution: "bookworm", variant: "minbase", mirror: undefined });
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
    expect(web.base).to.include({ kind: "debootstrap", distribution: "bookworm" });
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

  it("build_env: values from the environment, exported to customize.sh, part of the fingerprint; a missing one is named", () => {
    const at = box("rpm", "extends: debian-12\nbuild_env: [REPO_URL, REPO_KEY]\n", 'echo "$REPO_URL"\n');
    const env = { REPO_URL: "https://repo.example.net/el/$releasever", REPO_KEY: "it's" };
    const b = loadBox(at, env);
    expect(b.buildEnv).to.deep.equal(env);
    expect(customizeStep(b)).to.equal(`export REPO_URL='https://repo.example.net/el/$releasever'\nexport REPO_KEY='it'\\''s'\necho "$REPO_URL"\n`);
    expect(boxHash(loadBox(at, { ...env }), "1")).to.equal(boxHash(b, "1"));
    expect(boxHash(loadBox(at, { ...env, REPO_URL: "https://other.example.net/el" }), "1"), "another value, another image").to.not.equal(boxHash(b, "1"));
    const file = path.join(at, "box.yml");
    expect(() => loadBox(at, { REPO_URL: "x" })).to.throw(UserError, `${file}: build_env: REPO_KEY is not set: this box takes it from the environment when it is built (set REPO_KEY for galley)`);
    expect(() => loadBox(at, { REPO_URL: "", REPO_KEY: "k" })).to.throw(UserError, `${file}: build_env: REPO_URL is not set`);
    // A box without build_env keeps the fingerprint it always had.
    expect(loadBox(findBox("debian-12", dir)!, {}).buildEnv).to.deep.equal({});
  });

  it("from: ${NAME} takes the image from a build_env variable", () => {
    const at = box("img", "build_env: [BASE_IMAGE]\nfrom: ${BASE_IMAGE}\n");
    expect(loadBox(at, { BASE_IMAGE: "registry.example.net:5000/team/base:1" }).base).to.deep.equal({ kind: "image", from: "registry.example.net:5000/team/base:1" });
    expect(() => loadBox(at, {})).to.throw(UserError, `${path.join(at, "box.yml")}: build_env: BASE_IMAGE is not set`);
    expect(() => loadBox(at, { BASE_IMAGE: "not an image" })).to.throw(UserError, `${path.join(at, "box.yml")}: from: \${BASE_IMAGE} is "not an image", which is no image reference`);
    expect(errorOf(box("unlisted", "from: ${BASE_IMAGE}\n"))).to.match(/unlisted\/box\.yml: from: uses \$\{BASE_IMAGE\}, which build_env does not list/);
    expect(errorOf(box("badname", "extends: debian-12\nbuild_env: [repo-url]\n"))).to.match(/badname\/box\.yml: build_env\.0: expected an environment variable name/);
  });

  it("customize: shares a sibling's script; the fingerprint follows the script's content; a missing one is named", () => {
    const base = box("base-a", "distribution: bookworm\n", "echo one\n");
    const sibling = box("base-b", "distribution: bookworm\ncustomize: ../base-a/customize.sh\n");
    expect(loadBox(sibling).customizeScript).to.equal(path.join(base, "customize.sh"));
    const before = boxHash(loadBox(sibling), "s");
    writeFileSync(path.join(base, "customize.sh"), "echo two\n");
    expect(boxHash(loadBox(sibling), "s")).to.not.equal(before);
    const lost = box("base-c", "distribution: bookworm\ncustomize: nowhere.sh\n");
    expect(errorOf(lost)).to.equal(`${path.join(lost, "box.yml")}: customize: ${path.join(lost, "nowhere.sh")} does not exist`);
  });

  it("rejects what does not make a box, naming file and key", () => {
    expect(errorOf(box("a", "extends: debian-12\ndistribution: trixie\n"))).to.match(/a\/box\.yml: distribution: comes from the box it extends \(debian-12\)/);
    expect(errorOf(box("b", "packages: [curl]\n"))).to.match(/b\/box\.yml: distribution: is required/);
    expect(errorOf(box("c", "extends: debain-12\n"))).to.match(/c\/box\.yml: extends: box debain-12 not found: no folder .*debain-12, and Galley ships no box of that name \(shipped: centos-stream-9, debian-11, debian-12, debian-13, rockylinux-9\)/);
    expect(errorOf(box("d", "extends: debian-12\npackages: [Not A Package]\n"))).to.match(/d\/box\.yml: packages\.0: expected a package name/);
    expect(errorOf(box("e", "extends: debian-12\npackage: [curl]\n"))).to.match(/e\/box\.yml: \(top level\): Unrecognized key: "package"/);
    box("loop1", "extends: ../loop2\n");
    expect(errorOf(box("loop2", "extends: ../loop1\n"))).to.match(/extends: a box cannot extend itself/);
  });
});
