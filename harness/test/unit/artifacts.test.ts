// The url source, as users with internet would use it, served here by a loopback HTTP server with a
// tarball this test builds: installed when the checksum matches, refused when it does not.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { resolveArtifact } from "../../src/artifacts/resolve.ts";

describe("artifacts from a URL", function () {
  let server: http.Server;
  let base: string;
  let tarball: Buffer;
  let cache: string;
  const saved = process.env.GALLEY_CACHE;

  before(async () => {
    const src = mkdtempSync(path.join(os.tmpdir(), "galley-tarball-"));
    mkdirSync(path.join(src, "etcd-v9.9.9-linux-amd64"));
    for (const b of ["etcd", "etcdctl"]) {
      writeFileSync(path.join(src, "etcd-v9.9.9-linux-amd64", b), `#!/bin/sh\necho ${b} 9.9.9\n`);
      chmodSync(path.join(src, "etcd-v9.9.9-linux-amd64", b), 0o755);
    }
    execFileSync("tar", ["-czf", path.join(src, "etcd.tar.gz"), "-C", src, "etcd-v9.9.9-linux-amd64"]);
    tarball = readFileSync(path.join(src, "etcd.tar.gz"));
    server = http.createServer((req, res) => {
      if (req.url === "/etcd.tar.gz") res.end(tarball);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cache = mkdtempSync(path.join(os.tmpdir(), "galley-cache-"));
    process.env.GALLEY_CACHE = cache;
  });
  after(() => {
    server.close();
    if (saved === undefined) delete process.env.GALLEY_CACHE;
    else process.env.GALLEY_CACHE = saved;
  });

  it("downloads, checks the sha256 and keeps the named binaries, cached by checksum", async () => {
    const sha256 = createHash("sha256").update(tarball).digest("hex");
    const spec = { source: "url" as const, url: `${base}/etcd.tar.gz`, sha256, binaries: ["etcd", "etcdctl"], base: "/" };
    const a = await resolveArtifact("etcd", spec);
    expect(execFileSync(path.join(a.dir, "etcd")).toString()).to.equal("etcd 9.9.9\n");
    expect(existsSync(path.join(a.dir, "etcdctl"))).to.equal(true);
    server.close(); // a second resolve must come from the cache
    const again = await resolveArtifact("etcd", spec);
    expect(again.dir).to.equal(a.dir);
    server = http.createServer((req, res) => res.end(tarball));
    await new Promise<void>((r) => server.listen(Number(new URL(base).port), "127.0.0.1", r));
  });

  it("refuses a tarball whose checksum does not match, and caches nothing", async () => {
    const wrong = "0".repeat(64);
    const err = await resolveArtifact("etcd", { source: "url", url: `${base}/etcd.tar.gz`, sha256: wrong, binaries: ["etcd"], base: "/" }).catch((e) => e);
    expect(err.message).to.match(new RegExp(`checksum mismatch for ${base}/etcd.tar.gz: expected sha256 0{64}, got [0-9a-f]{64}; refusing to install it`));
    expect(existsSync(path.join(cache, "artifacts", "etcd", `url-${wrong.slice(0, 16)}`))).to.equal(false);
  });

  it("names a missing binary", async () => {
    const sha256 = createHash("sha256").update(tarball).digest("hex");
    const err = await resolveArtifact("other", { source: "url", url: `${base}/etcd.tar.gz`, sha256, binaries: ["fleetd"], base: "/" }).catch((e) => e);
    expect(err.message).to.match(/etcd\.tar\.gz has no fleetd/);
  });
});
