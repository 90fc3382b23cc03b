// Go build information read by Galley must be what Go's own `go version -m` says: checked on a small
// binary built here (a main module and a replaced dependency), from the whole file and from the excerpt
// the node-side script sends; and on the framed text older (pre-1.18) binaries carry.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { goForRecipes } from "../../src/toolchains/go.ts";
import { buildInfoScript, moduleLine, parseBuildInfo, type BuildInfo } from "../../src/util/buildinfo.ts";

function goBinary(): string {
  // The Go the recipes use: PATH's, /usr/local/go's, or the toolchain `galley setup` fetched.
  const found = goForRecipes()?.go;
  if (!found) throw new Error("no Go 1.22 or newer (PATH, /usr/local/go, Galley's cache): Galley's tests need one; `npx galley setup` gets it");
  return found;
}

/** The lines `go version -m` prints for a binary, from our parse. */
function asGoVersionM(info: BuildInfo): string[] {
  const mod = (kind: string, m: { path: string; version?: string; sum?: string }) => [kind, m.path, m.version, m.sum].filter((x) => x !== undefined).join("\t");
  return [
    `path\t${info.path}`,
    ...(info.main ? [mod("mod", info.main)] : []),
    ...info.deps.flatMap((d) => [mod("dep", d), ...(d.replacedBy ? [mod("=>", d.replacedBy)] : [])]),
    ...Object.entries(info.settings).map(([k, v]) => `build\t${k}=${v}`),
  ];
}

describe("Go build information", function () {
  this.timeout(120_000);
  let bin: string;
  let go: string;

  before(() => {
    go = goBinary();
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-buildinfo-"));
    mkdirSync(path.join(dir, "dep"));
    writeFileSync(path.join(dir, "dep", "go.mod"), "module example.invalid/dep\n\ngo 1.22\n");
    writeFileSync(path.join(dir, "dep", "dep.go"), "package dep\n\nconst Hello = \"hello\"\n");
    writeFileSync(path.join(dir, "go.mod"), "module example.invalid/hello\n\ngo 1.22\n\nrequire example.invalid/dep v1.2.3\n\nreplace example.invalid/dep => ./dep\n");
    writeFileSync(path.join(dir, "main.go"), "package main\n\nimport \"example.invalid/dep\"\n\nfunc main() { println(dep.Hello) }\n");
    bin = path.join(dir, "hello");
    execFileSync(go, ["build", "-o", bin, "."], { cwd: dir, env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off", GOWORK: "off", GOTOOLCHAIN: "local" } });
  });

  it("reads from a binary exactly what `go version -m` prints", () => {
    const info = parseBuildInfo(readFileSync(bin))!;
    const want = execFileSync(go, ["version", "-m", bin]).toString().trim().split("\n");
    expect(want[0]).to.equal(`${bin}: ${info.goVersion}`);
    // (Go prints a blank line after a replacement without a hash; only the lines with content count.)
    expect(asGoVersionM(info)).to.deep.equal(want.slice(1).map((l) => l.trim()).filter(Boolean));
    expect(info.deps[0]).to.deep.include({ path: "example.invalid/dep", version: "v1.2.3", replacedBy: { path: "./dep", version: "(devel)", sum: undefined } });
    expect(moduleLine(info)).to.equal("example.invalid/hello (no module version: built as (devel))");
  });

  it("the node-side script sends the bytes that hold it: same result as the whole file", () => {
    const b64 = execFileSync("bash", ["-c", `set -eo pipefail\n${buildInfoScript}\nbuildinfo "$1"`, "bash", bin]).toString();
    expect(b64.length).to.be.greaterThan(0).and.lessThan(100_000);
    expect(parseBuildInfo(Buffer.from(b64, "base64"))).to.deep.equal(parseBuildInfo(readFileSync(bin)));
    // A file without Go build information sends nothing.
    expect(execFileSync("bash", ["-c", `set -eo pipefail\n${buildInfoScript}\nbuildinfo /etc/hostname; echo done`]).toString()).to.equal("done\n");
  });

  it("reads the framed module text of pre-1.18 binaries (pointers instead of inline strings), and names the main module's source", () => {
    const start = Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex");
    const end = Buffer.from("f932433186182072008242104116d8f2", "hex");
    const header = Buffer.concat([Buffer.from("\xff Go buildinf:", "latin1"), Buffer.from([8, 0]), Buffer.alloc(16)]);
    const text = "path\tgo.etcd.io/etcd/server/v3\nmod\tgalley.invalid/etcd-wrapper/etcd\t(devel)\t\ndep\tgo.etcd.io/etcd/server/v3\tv3.6.16\th1:abc=\n";
    const info = parseBuildInfo(Buffer.concat([Buffer.alloc(100), header, Buffer.alloc(4000), start, Buffer.from(text), end, Buffer.alloc(10)]))!;
    expect(info.goVersion).to.equal(undefined);
    expect(info.path).to.equal("go.etcd.io/etcd/server/v3");
    // A wrapper module: the module that really holds the main package is the dep its path names.
    expect(moduleLine(info)).to.equal("go.etcd.io/etcd/server/v3 v3.6.16 h1:abc=");
    expect(parseBuildInfo(Buffer.from("no go here"))).to.equal(undefined);
    // A pre-1.18 GOPATH build (Debian bullseye's etcd 3.3.25): a header, no module text at all.
    expect(moduleLine(parseBuildInfo(Buffer.concat([header, Buffer.alloc(64)])))).to.equal("(no module information: built outside module mode)");
    expect(moduleLine(undefined)).to.equal("(no Go build information)");
  });
});
