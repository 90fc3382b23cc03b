import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { usableMirror } from "../../src/boxes/mirror.ts";

// Boxes are built from the machine's own apt mirror; debootstrap needs a plain http(s) location.
describe("the host's Debian mirror", () => {
  it("takes an http(s) source as it is", () => {
    expect(usableMirror("http://mirror.example/debian")).to.equal("http://mirror.example/debian");
  });

  it("expands apt's mirror+file: lists (Debian 12 cloud images) to their first mirror", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-mirror-"));
    const list = path.join(dir, "debian.list");
    writeFileSync(list, "# mirrors\nhttps://first.example/debian\tpriority:1\nhttps://second.example/debian\n");
    expect(usableMirror(`mirror+file://${list}`)).to.equal("https://first.example/debian");
    expect(usableMirror(`mirror+file:${list}`)).to.equal("https://first.example/debian");
  });

  it("refuses what debootstrap cannot use", () => {
    expect(usableMirror("cdrom:[Debian 12]/")).to.equal(undefined);
    expect(usableMirror("mirror+file:///nonexistent/list")).to.equal(undefined);
  });
});
