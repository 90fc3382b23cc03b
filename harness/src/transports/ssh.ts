// SSH transport (ssh2): what a real machine offers. The driver installs the instance's public key for
// root at create; sshd inside the box does the rest.
import { readFileSync } from "node:fs";
import { Client } from "ssh2";
import tarFs from "tar-fs";
import { TransportFailed } from "../errors.ts";
import type { InstanceState } from "../state/state-file.ts";
import { boxOf, shellQuote, wrapScript, type Connection, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";

export class SshTransport implements Transport {
  readonly name = "ssh";
  constructor(private readonly defaultTimeoutMs: number, private readonly user = "root") {}

  async connect(node: string, state: InstanceState): Promise<Connection> {
    const host = boxOf(state, node)?.ip;
    if (!host || !state.sshKey) throw new TransportFailed(`node ${node} of ${state.instance} has no address or key (run \`galley create ${state.instance}\`)`);
    const privateKey = readFileSync(state.sshKey);
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve).once("error", (e) => reject(new TransportFailed(`ssh ${this.user}@${host} (node ${node}): ${e.message}`, { cause: e })));
      client.connect({ host, port: 22, username: this.user, privateKey, readyTimeout: 20_000 });
    });
    const defaultTimeoutMs = this.defaultTimeoutMs;
    const run = (script: string, o: ExecOptions = {}, stdin?: NodeJS.ReadableStream): Promise<ExecResult> =>
      new Promise((resolve, reject) => {
        const start = Date.now();
        let argv = wrapScript(script, o.timeoutMs ?? defaultTimeoutMs);
        if (o.user && o.user !== this.user) argv = ["sudo", "-u", o.user, "-H", ...argv];
        const envPrefix = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`); // quoted once, below
        const command = [...(envPrefix.length ? ["env", ...envPrefix] : []), ...argv].map(shellQuote).join(" ");
        client.exec(command, (err, ch) => {
          if (err) return reject(new TransportFailed(`ssh exec on node ${node}: ${err.message}`, { cause: err }));
          let stdout = "";
          let stderr = "";
          ch.on("data", (b: Buffer) => { stdout += b; o.onOutput?.(b.toString(), "stdout"); });
          ch.stderr.on("data", (b: Buffer) => { stderr += b; o.onOutput?.(b.toString(), "stderr"); });
          ch.on("close", (code: number | null) => resolve({ exitCode: code ?? -1, stdout, stderr, ms: Date.now() - start }));
          if (stdin) stdin.pipe(ch);
          else ch.end();
        });
      });
    return {
      exec: (script, o) => run(script, o),
      async upload(localDir, remoteDir) {
        const r = await run(`mkdir -p ${shellQuote(remoteDir)} && tar -x -C ${shellQuote(remoteDir)}`, {}, tarFs.pack(localDir) as unknown as NodeJS.ReadableStream);
        if (r.exitCode !== 0) throw new TransportFailed(`node ${node}: upload of ${localDir} failed: ${r.stderr.trim()}`);
      },
      async close() {
        client.end();
      },
    };
  }

  loginCommand(node: string, state: InstanceState): string[] {
    return ["ssh", "-i", state.sshKey!, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `${this.user}@${boxOf(state, node)!.ip}`];
  }
}
