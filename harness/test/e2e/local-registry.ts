// A private Docker registry for one test: Debian's docker-registry (the CNCF distribution registry)
// on a free loopback port, with basic authentication and its storage in a temp folder, stopped and
// removed afterwards. Docker trusts registries on 127.0.0.0/8 without TLS, so nothing else is needed.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { markedEnv } from "./helpers.ts";

/** The test's own account (a throwaway password for a registry that lives for one test, on loopback). */
export const REGISTRY_USER = "galley-test";
export const REGISTRY_PASSWORD = "galley-test-password";
// bcrypt of REGISTRY_PASSWORD (python3: crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))).
const HTPASSWD = `${REGISTRY_USER}:$2b$12$CT1I0Yesk17xkrto6ECX4u05wcMUH6KGZYRBwwAPjZw/c6AFDbTQa\n`;

export class LocalRegistry {
  private constructor(
    readonly host: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly output: () => string,
  ) {}

  /** Starts a registry and waits until it answers (401 without credentials: authentication is on). */
  static async start(): Promise<LocalRegistry> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-registry-"));
    writeFileSync(path.join(dir, "htpasswd"), HTPASSWD);
    writeFileSync(path.join(dir, "config.yml"), [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${path.join(dir, "storage")} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", secret: galley-test-only }`,
      `auth: { htpasswd: { realm: galley-test, path: ${path.join(dir, "htpasswd")} } }`,
      "",
    ].join("\n"));
    const child = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { env: markedEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (b) => (out += b));
    child.stderr!.on("data", (b) => (out += b));
    const registry = new LocalRegistry(`127.0.0.1:${port}`, dir, child, () => out);
    const spawned = new Promise<Error>((resolve) => child.on("error", resolve));
    for (const deadline = Date.now() + 20_000; ;) {
      const failed = await Promise.race([spawned, new Promise((r) => setTimeout(r, 200, undefined))]);
      if (failed) {
        await registry.stop();
        throw new Error(`cannot start docker-registry (apt-get install docker-registry): ${(failed as Error).message}`);
      }
      const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
      if (status === 401) return registry;
      if (child.exitCode !== null || Date.now() > deadline) {
        await registry.stop();
        throw new Error(`docker-registry did not answer on 127.0.0.1:${port} (last status ${status}):\n${out}`);
      }
    }
  }

  /** The registry's own log (for failure messages). */
  log(): string {
    return this.output();
  }

  /** Stops the registry (SIGTERM, then SIGKILL) and removes its folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
