// The default transport: `docker exec` through the Docker API. Works even when a node is cut off from
// its network (a partition test still reaches it), and needs nothing inside the box.
import path from "node:path";
import { PassThrough } from "node:stream";
import { TransportFailed } from "../errors.ts";
import { tarFs } from "../util/lazy-modules.ts";
import { docker, dockerCliHostArgs } from "../drivers/docker/client.ts";
import { DockerSession, sessionCommand } from "./docker-session.ts";
import { wrapScript, type BoxAddress, type Connection, type ExecOptions, type ExecResult, type Transport } from "./transport.ts";

export class DockerExecTransport implements Transport {
  readonly name = "docker-exec";
  constructor(private readonly defaultTimeoutMs: number) {}

  async connect(box: BoxAddress): Promise<Connection> {
    const node = box.name;
    const id = box.container;
    if (!id) throw new TransportFailed(`node ${node} has no container (is the instance created?)`);
    const container = (await docker()).getContainer(id);
    const defaultTimeoutMs = this.defaultTimeoutMs;
    // Short commands as root go through the node's session shell; streamed output, another user, or a
    // request the session could not run go through a plain exec.
    const session = new DockerSession(container);
    const conn: Connection = {
      async exec(script: string, o: ExecOptions = {}): Promise<ExecResult> {
        const timeoutMs = o.timeoutMs ?? defaultTimeoutMs;
        if (!o.onOutput && (o.user ?? "root") === "root") {
          const r = await session.run(sessionCommand(script, timeoutMs, o.env), timeoutMs);
          if (r !== "not-run") return r;
        }
        const start = Date.now();
        let exec;
        try {
          exec = await container.exec({
            Cmd: wrapScript(script, timeoutMs),
            AttachStdout: true,
            AttachStderr: true,
            User: o.user ?? "root",
            Env: Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
          });
          const stream = await exec.start({ hijack: true, stdin: false });
          const out: Buffer[] = [];
          const err: Buffer[] = [];
          const stdout = new PassThrough().on("data", (b: Buffer) => { out.push(b); o.onOutput?.(b.toString(), "stdout"); });
          const stderr = new PassThrough().on("data", (b: Buffer) => { err.push(b); o.onOutput?.(b.toString(), "stderr"); });
          container.modem.demuxStream(stream, stdout, stderr);
          await new Promise<void>((resolve, reject) => {
            stream.on("end", resolve);
            stream.on("close", resolve);
            stream.on("error", reject);
          });
          // The stream can end a moment before Docker records the exit code: ask until it has one.
          let info = await exec.inspect();
          for (let i = 0; info.Running && i < 100; i++) {
            await new Promise((r) => setTimeout(r, 20));
            info = await exec.inspect();
          }
          const ExitCode = info.Running ? null : info.ExitCode;
          return { exitCode: ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: Date.now() - start };
        } catch (e) {
          throw new TransportFailed(`cannot run a command on node ${node} (${id.slice(0, 12)}): ${(e as Error).message}`, { cause: e });
        }
      },
      async upload(localDir: string, remoteDir: string): Promise<void> {
        // One API call, no exec: the archive holds remoteDir's own path and is unpacked at /, where
        // Docker creates missing parent folders (a `mkdir -p` exec first cost a round trip per upload,
        // and converge uploads four folders to every node).
        const prefix = path.posix.resolve("/", remoteDir).slice(1);
        if (!prefix) throw new TransportFailed(`node ${node}: will not upload ${localDir} over / (remote folder "${remoteDir}")`);
        const archive = tarFs().pack(localDir, { map: (h) => ({ ...h, name: h.name === "." ? prefix : `${prefix}/${h.name}` }) });
        try {
          await container.putArchive(archive as unknown as NodeJS.ReadableStream, { path: "/" });
        } catch (e) {
          throw new TransportFailed(`node ${node}: upload of ${localDir} to ${remoteDir} failed: ${(e as Error).message}`, { cause: e });
        }
      },
      async close() {
        session.close();
      },
    };
    return conn;
  }

  loginCommand(box: BoxAddress): string[] {
    return ["docker", ...dockerCliHostArgs(), "exec", "-it", "-e", `TERM=${process.env.TERM ?? "xterm"}`, box.container ?? box.name, "bash", "-l"];
  }
}
