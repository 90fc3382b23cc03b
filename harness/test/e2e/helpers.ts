// Runs the real CLI as a user would, and asks the real Docker what is left behind.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import Docker from "dockerode";

export const repo = path.resolve(import.meta.dirname, "../../..");
const bin = path.join(repo, "harness", "bin", "galley.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Sends `signal` as soon as stderr matches `pattern`. */
  signalAfter?: { pattern: RegExp; signal: NodeJS.Signals };
  onSpawn?: (child: ChildProcess) => void;
}

export function galley(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    opts.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => {
      stderr += b;
      if (opts.signalAfter && !sent && opts.signalAfter.pattern.test(stderr)) {
        sent = true;
        child.kill(opts.signalAfter.signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - start }));
  });
}

/** Everything labelled for an instance (or any Galley instance) that still exists. */
export async function leftovers(instance?: string): Promise<string[]> {
  const d = new Docker();
  const filters = { label: [instance ? `galley.instance=${instance}` : "galley.instance"] };
  const [containers, networks, volumes] = await Promise.all([
    d.listContainers({ all: true, filters }),
    d.listNetworks({ filters }),
    d.listVolumes({ filters }),
  ]);
  return [
    ...containers.map((c) => `container ${c.Names[0]}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}
