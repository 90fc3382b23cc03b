// Galley on the Docker engine a user configured, not only on /var/run/docker.sock: the real engine
// behind a forwarder on a non-default unix socket and on a loopback TCP port (the forwarders live in
// this test process and count their connections, so a run that went to the default socket instead is
// seen), reached through DOCKER_HOST, a Docker context and ~/.testcontainers.properties. One small
// instance (the starter project) is created, used and destroyed, each step through another of them.
import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { writeStarter } from "../../src/cli/commands/init.ts";
import { cacheDir } from "../../src/util/cache.ts";
import { galley, LeakWatch } from "./helpers.ts";

/** Forwards every connection to the real engine's socket, both ways (half-closes too, as exec streams need). */
class Forwarder {
  connections = 0;
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  constructor() {
    this.server = net.createServer({ allowHalfOpen: true }, (client) => {
      this.connections++;
      const engine = net.connect({ path: "/var/run/docker.sock", allowHalfOpen: true });
      for (const s of [client, engine]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(engine);
      engine.pipe(client);
    });
  }
  listen(where: string | { port: number; host: string }): Promise<string> {
    return new Promise((resolve) => {
      this.server.listen(where, () => {
        const a = this.server.address();
        resolve(typeof a === "string" ? `unix://${a}` : `tcp://127.0.0.1:${a!.port}`);
      });
    });
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("Docker hosts as testcontainers finds them", function () {
  const instance = "hello-debian-12";
  let dir: string;
  let config: string;
  let unixFwd: Forwarder;
  let tcpFwd: Forwarder;
  let unixUri: string;
  let tcpUri: string;
  let watch: LeakWatch;
  // Without DOCKER_HOST from this process's environment, and with the shared cache wherever HOME points.
  const run = (args: string[], env: Record<string, string>) =>
    galley(["--config", config, ...args], { env: { DOCKER_HOST: "", DOCKER_CONTEXT: "", GALLEY_CACHE: cacheDir(), ...env } });
  const ok = (r: { code: number | null; stdout: string; stderr: string }, what: string) => expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).to.equal(0);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "galley-docker-hosts-"));
    writeStarter(path.join(dir, "project"));
    config = path.join(dir, "project", "galley.yml");
    unixFwd = new Forwarder();
    tcpFwd = new Forwarder();
    mkdirSync(path.join(dir, "run"));
    unixUri = await unixFwd.listen(path.join(dir, "run", "engine.sock"));
    tcpUri = await tcpFwd.listen({ port: 0, host: "127.0.0.1" });
    watch = await LeakWatch.start([path.join(dir, "project")]);
  });

  after(async () => {
    await galley(["--config", config, "destroy"]);
    await unixFwd.close();
    await tcpFwd.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates through DOCKER_HOST on a non-default unix socket", async () => {
    const r = await run(["create", instance], { DOCKER_HOST: unixUri });
    ok(r, "galley create");
    expect(unixFwd.connections, "connections through the unix forwarder").to.be.greaterThan(0);
  });

  it("runs commands on the nodes through a Docker context on a loopback TCP port", async () => {
    const docker = path.join(dir, "docker-config");
    const id = createHash("sha256").update("galley-e2e").digest("hex");
    mkdirSync(path.join(docker, "contexts", "meta", id), { recursive: true });
    writeFileSync(path.join(docker, "config.json"), JSON.stringify({ currentContext: "galley-e2e" }));
    writeFileSync(path.join(docker, "contexts", "meta", id, "meta.json"), JSON.stringify({ Name: "galley-e2e", Metadata: {}, Endpoints: { docker: { Host: tcpUri, SkipTLSVerify: false } } }));
    const before = tcpFwd.connections;
    const r = await run(["exec", instance, "--", "hostname"], { DOCKER_CONFIG: docker });
    ok(r, "galley exec");
    expect(r.stdout).to.match(/web0/).and.to.match(/web1/);
    expect(tcpFwd.connections - before, "connections through the TCP forwarder").to.be.greaterThan(0);
  });

  it("verifies through docker.host in ~/.testcontainers.properties", async () => {
    const home = path.join(dir, "home");
    mkdirSync(home);
    writeFileSync(path.join(home, ".testcontainers.properties"), `# as testcontainers reads it\ndocker.host=${unixUri}\n`);
    const before = unixFwd.connections;
    const r = await run(["verify", instance], { HOME: home });
    ok(r, "galley verify");
    expect(unixFwd.connections - before).to.be.greaterThan(0);
  });

  it("a DOCKER_HOST that does not answer is an error naming it, never another engine", async () => {
    const closed = new Forwarder();
    const uri = await closed.listen({ port: 0, host: "127.0.0.1" });
    await closed.close();
    const r = await run(["destroy", instance], { DOCKER_HOST: uri });
    expect(r.code, r.stderr).to.equal(20);
    expect(r.stderr).to.contain(`no Docker daemon answers at ${uri} (from DOCKER_HOST)`);
  });

  it("destroys through DOCKER_HOST=tcp://127.0.0.1:PORT, leaving nothing", async () => {
    const before = tcpFwd.connections;
    ok(await run(["destroy", instance], { DOCKER_HOST: tcpUri }), "galley destroy");
    expect(tcpFwd.connections - before).to.be.greaterThan(0);
    expect(await watch.leftovers()).to.deep.equal([]);
  });
});
