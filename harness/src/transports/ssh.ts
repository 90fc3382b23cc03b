// SSH transport (ssh2): what a real machine offers. The driver installs the instance's public key for
// root at create; sshd inside the box does the rest.
import { readFileSync } from "node:fs";
import type { Client } from "ssh2";
import { TransportFailed } from "../errors.ts";
import { ssh2, tarFs } from "../util/lazy-modules.ts";
import { shellQuote, wrapScript, type BoxAddress, type Connection, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";

export class SshTransport implements Transport {
  readonly name = "ssh";
  constructor(private readonly defaultTimeoutMs: number, private readonly user = "root") {}

  async connect(box: BoxAddress): Promise<Connection> {
    const node = box.name;
    const host = box.host ?? box.ip;
    const user = box.user ?? this.user;
    if (!host || !box.keyFile) throw new TransportFailed(`node ${node} has no address or key (is the instance created?)`);
    const privateKey = readFileSync(box.keyFile);
    const client: Client = new (ssh2().Client)();
    let broken: Error | undefined;
    await new Promise<void>((resolve, reject) => {
      // A persistent listener: a socket error after `ready` must not crash the process.
      client.on("error", (e) => {
        broken = new TransportFailed(`ssh ${user}@${host} (node ${node}): ${e.message}`, { cause: e });
        reject(broken);
      });
      client.once("ready", resolve);
      // Keepalives notice a dead or cut-off node instead of waiting on TCP for minutes.
      client.connect({ host, port: box.port ?? 22, username: user, privateKey, readyTimeout: 20_000, keepaliveInterval: 5_000, keepaliveCountMax: 3 });
    });
    const defaultTimeoutMs = this.defaultTimeoutMs;
    const run = (script: string, o: ExecOptions = {}, stdin?: NodeJS.ReadableStream): Promise<ExecResult> =>
      new Promise((resolve, reject) => {
        const start = Date.now();
        let argv = wrapScript(script, o.timeoutMs ?? defaultTimeoutMs);
        if (o.user && o.user !== user) argv = ["sudo", "-u", o.user, "-H", ...argv];
        const envPrefix = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`); // quoted once, below
        const command = [...(envPrefix.length ? ["env", ...envPrefix] : []), ...argv].map(shellQuote).join(" ");
        if (broken) return reject(broken);
        client.exec(command, (err, ch) => {
          if (err) return reject(new TransportFailed(`ssh exec on node ${node}: ${err.message}`, { cause: err }));
          let stdout = "";
          let stderr = "";
          let exitCode: number | undefined;
          let done = false;
          const finish = (code: number) => {
            if (done) return;
            done = true;
            clearTimeout(deadline);
            resolve({ exitCode: code, stdout, stderr, ms: Date.now() - start });
          };
          // The remote `timeout` ends the command, but a background process holding its stdout keeps
          // the channel open: a host-side deadline (a little later) closes it and reports 124.
          const deadline = setTimeout(() => { ch.close(); finish(124); }, (o.timeoutMs ?? defaultTimeoutMs) + 10_000);
          ch.on("data", (b: Buffer) => { stdout += b; o.onOutput?.(b.toString(), "stdout"); });
          ch.stderr.on("data", (b: Buffer) => { stderr += b; o.onOutput?.(b.toString(), "stderr"); });
          ch.on("exit", (code: number | null) => {
            exitCode = code ?? -1;
            // Output may still be in flight after the exit status: give it a moment, then stop waiting.
            setTimeout(() => finish(exitCode!), 2_000).unref();
          });
          ch.on("close", () => finish(exitCode ?? -1));
          if (stdin) {
            // A channel that closes early (a dropped connection, a remote tar that died) makes the
            // source stream emit an error: this command's failure, not an unhandled event that kills Galley.
            stdin.on("error", (e: Error) => {
              stderr += `\n(stream to the node: ${e.message})`;
              ch.close();
            });
            stdin.pipe(ch);
          } else ch.end();
        });
      });
    return {
      exec: (script, o) => run(script, o),
      async upload(localDir, remoteDir) {
        const r = await run(`mkdir -p ${shellQuote(remoteDir)} && tar -x -C ${shellQuote(remoteDir)}`, {}, tarFs().pack(localDir) as unknown as NodeJS.ReadableStream);
        if (r.exitCode !== 0) throw new TransportFailed(`node ${node}: upload of ${localDir} failed: ${r.stderr.trim()}`);
      },
      async close() {
        client.end();
      },
    };
  }

  loginCommand(box: BoxAddress): string[] {
    return ["ssh", "-i", box.keyFile ?? "", "-p", String(box.port ?? 22), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `${box.user ?? this.user}@${box.host ?? box.ip}`];
  }
}
