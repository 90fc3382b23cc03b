// Getting a Go module from a proxy the way the go command does: the zip's go.sum hash must match, or
// nothing is unpacked. The vector is a real module zip (github.com/coreos/go-semver v0.2.0, 11 KB)
// with the h1: line fleet's go.sum pins for it, served from a file:// proxy. The real toolchain
// download (golang.org/toolchain through the machine's proxy) runs in e2e/setup.test.ts.
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { repo } from "../e2e/helpers.ts";
import { atLeast, fetchVerifiedModule, goProxies, MIN_GO, moduleZipHash, parseGoVersion, toolchainExecutable } from "../../src/toolchains/go.ts";

const zip = readFileSync(path.join(import.meta.dirname, "fixtures", "go-semver-v0.2.0.zip"));
const pinned = /^github\.com\/coreos\/go-semver v0\.2\.0 (h1:\S+)$/m.exec(readFileSync(path.join(repo, "fixtures/artifacts/fleet/v1.0.0/go.sum"), "utf8"))![1]!;

describe("Go modules from a proxy, checked against go.sum", () => {
  let dir: string;
  let proxy: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-goproxy-"));
    mkdirSync(path.join(dir, "proxy", "github.com", "coreos", "go-semver", "@v"), { recursive: true });
    writeFileSync(path.join(dir, "proxy", "github.com", "coreos", "go-semver", "@v", "v0.2.0.zip"), zip);
    proxy = pathToFileURL(path.join(dir, "proxy")).href;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("hashes a module zip as go.sum does", () => {
    expect(moduleZipHash(zip)).to.equal(pinned);
  });

  it("unpacks a module whose hash matches, without its module@version/ prefix, with the modes asked for", async () => {
    const dest = path.join(dir, "out");
    await fetchVerifiedModule({ module: "github.com/coreos/go-semver", version: "v0.2.0", sum: pinned, proxies: ["https://127.0.0.1:1/unreachable", proxy], dest, executable: (f) => f.endsWith(".go") });
    expect(readFileSync(path.join(dest, "semver", "semver.go"), "utf8")).to.match(/^package semver/m);
    expect(statSync(path.join(dest, "semver", "semver.go")).mode & 0o777).to.equal(0o755);
    expect(statSync(path.join(dest, "README.md")).mode & 0o777).to.equal(0o644);
  });

  it("refuses a zip whose hash differs, unpacking nothing", async () => {
    const tampered = Buffer.from(zip);
    // The central directory is intact; one byte of deflated content changes.
    tampered[200] = tampered[200]! ^ 0xff;
    writeFileSync(path.join(dir, "proxy", "github.com", "coreos", "go-semver", "@v", "v0.2.0.zip"), tampered);
    const dest = path.join(dir, "out");
    const err = await fetchVerifiedModule({ module: "github.com/coreos/go-semver", version: "v0.2.0", sum: pinned, proxies: [proxy], dest }).catch((e: Error) => e);
    expect(String(err)).to.match(/v0\.2\.0\.zip: github\.com\/coreos\/go-semver@v0\.2\.0\/\S+: cannot inflate/);
    expect(existsSync(dest)).to.equal(false);
    writeFileSync(path.join(dir, "proxy", "github.com", "coreos", "go-semver", "@v", "v0.2.0.zip"), zip);
    const wrongSum = await fetchVerifiedModule({ module: "github.com/coreos/go-semver", version: "v0.2.0", sum: "h1:AAAA", proxies: [proxy], dest }).catch((e: Error) => e);
    expect(String(wrongSum)).to.contain(`checksum mismatch: go.sum has github.com/coreos/go-semver v0.2.0 h1:AAAA, the download hashes to ${pinned}`);
    expect(existsSync(dest)).to.equal(false);
  });

  it("names every proxy it tried when none has the module", async () => {
    const err = await fetchVerifiedModule({ module: "github.com/coreos/go-semver", version: "v9.9.9", sum: pinned, proxies: [proxy], dest: path.join(dir, "out") }).catch((e: Error) => e);
    expect(String(err)).to.match(/cannot download github.com\/coreos\/go-semver@v9\.9\.9 .*v9\.9\.9\.zip/);
  });

  it("asks the machine's proxies: GOPROXY without direct and off", () => {
    expect(goProxies({ GOPROXY: "https://a.example,https://b.example|direct" }, null).proxies).to.deep.equal(["https://a.example", "https://b.example"]);
    expect(goProxies({ GOPROXY: "off" }, null).proxies).to.deep.equal([]);
    expect(goProxies({}, null)).to.deep.equal({ proxies: [], from: "GOPROXY" });
  });

  it("knows which Go versions are new enough and which toolchain files are commands", () => {
    expect(atLeast(parseGoVersion("go1.19.8")!, MIN_GO)).to.equal(false);
    expect(atLeast(parseGoVersion("go1.22rc1")!, MIN_GO)).to.equal(true);
    expect(atLeast(parseGoVersion("go1.26.11")!, MIN_GO)).to.equal(true);
    expect(atLeast(parseGoVersion("go2.0")!, MIN_GO)).to.equal(true);
    expect(["bin/go", "pkg/tool/linux_amd64/compile", "src/cmd/go/main.go", "bin/x/y"].map(toolchainExecutable)).to.deep.equal([true, true, false, false]);
  });
});
