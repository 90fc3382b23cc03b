// Bad input and a missing daemon: one clear line, the right exit code, no stack trace, nothing created.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

describe("galley CLI errors", function () {
  it("says how to start Docker when no daemon answers", async () => {
    const r = await galley(["create", "static-debian-12"], { env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    expect(r.code).to.equal(20);
    expect(r.stderr).to.match(/no Docker daemon answers at unix:\/\/\/nonexistent\/docker\.sock/);
    expect(r.stderr).to.match(/systemctl start docker/);
    expect(r.stderr).not.to.match(/\n\s+at /);
  });

  it("lists the valid instances for an unknown one", async () => {
    const r = await galley(["verify", "no-such-instance"]);
    expect(r.code).to.equal(20);
    expect(r.stderr.trim()).to.match(/^galley: no instance matches "no-such-instance" \(instances: static-debian-12, faults-debian-12, [a-z0-9, -]+\)$/);
  });

  it("rejects a bad config before creating anything, naming file, line and key", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-bad-"));
    const file = path.join(dir, "galley.yml");
    writeFileSync(file, "driver: docker\nprovisioner: { name: shell, path: nowhere }\nverifier: { name: mocha, suites: . }\nplatforms: [{ name: p, box: . }]\nsuites: [{ name: bad, nodes: 3 }]\n");
    const r = await galley(["--config", file, "create"]);
    expect(r.code).to.equal(20);
    expect(r.stderr).to.match(/galley\.yml:2: provisioner\.path: folder not found/);
    expect(r.stderr).to.match(/galley\.yml:4: platforms\[0\]\.box: .* has no box\.yml/);
    expect(r.stderr).not.to.match(/\n\s+at /);
    expect(await leftovers("bad-p")).to.deep.equal([]);
  });

  it("rejects a node count of 100 in one line", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-bad-"));
    const file = path.join(dir, "galley.yml");
    writeFileSync(file, "driver: docker\nprovisioner: { name: shell, path: . }\nverifier: { name: mocha, suites: . }\nplatforms: [{ name: p, box: . }]\nsuites:\n  - name: big\n    nodes: 100\n");
    const r = await galley(["--config", file, "create"]);
    expect(r.code).to.equal(20);
    expect(r.stderr.trim()).to.match(/^galley: .*galley\.yml:7: suites\[0\]\.nodes: a suite has 1 to 16 nodes$/);
    expect(await leftovers("big-p")).to.deep.equal([]);
  });

  it("names the valid nodes for an unknown node", async () => {
    const r = await galley(["exec", "static-debian-12", "--node", "infra9", "--", "true"]);
    expect(r.code).to.equal(20);
    expect(r.stderr).to.match(/not created|no node infra9 in static-debian-12 \(nodes: infra0, infra1, infra2\)/);
  });

  it("a corrupt state file: list shows it, verify names the file, destroy still cleans up and repairs it", async () => {
    const stateDir = path.join(repo, ".galley", "static-debian-12");
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(path.join(stateDir, "state.json"), "{ not json");
    const list = await galley(["list", "static-debian-12"]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/state\.json: state file is not valid JSON/);
    const verify = await galley(["verify", "static-debian-12"]);
    expect(verify.code).to.equal(20);
    expect(verify.stderr).to.match(/static-debian-12\/state\.json: state file is not valid JSON .*run `galley destroy static-debian-12` to start over/);
    const destroy = await galley(["destroy", "static-debian-12"]);
    expect(destroy.code, destroy.stderr).to.equal(0);
    expect(JSON.parse(readFileSync(path.join(stateDir, "state.json"), "utf8")).instance).to.equal("static-debian-12");
  });
});
