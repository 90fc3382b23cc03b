// Runs the host tools the Vagrant driver drives (virsh, vagrant, mmdebstrap, qemu-img, iptables):
// output captured (and streamed line by line to a log when asked), a missing tool turned into an
// install hint, and a failure that names the command, its exit code and its last lines.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { EnvironmentError } from "../../errors.ts";
import { track } from "../../util/children.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with every output line (both streams) as it arrives. */
  onLine?: (line: string) => void;
  /** Killed with SIGTERM (then SIGKILL 5 s later) after this long; the result then has code 124. */
  timeoutMs?: number;
  input?: string;
}

/** The Debian package that holds each tool, for the error a missing tool gets. */
const PACKAGE_OF: Record<string, string> = {
  virsh: "libvirt-clients",
  libvirtd: "libvirt-daemon-system",
  virtlogd: "libvirt-daemon-system",
  vagrant: "vagrant vagrant-libvirt",
  mmdebstrap: "mmdebstrap",
  "qemu-img": "qemu-utils",
  "qemu-system-x86_64": "qemu-system-x86",
  "mkfs.ext4": "e2fsprogs",
  iptables: "iptables",
  ip6tables: "iptables",
  "ssh-keygen": "openssh-client",
};

export function installHint(tool: string): string {
  return `${tool} is not installed: \`sudo apt-get install -y ${PACKAGE_OF[tool] ?? tool}\``;
}

/** Runs a command; never throws for a non-zero exit (see `must`). */
export function runCommand(cmd: string, args: string[], o: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
        }, o.timeoutMs)
      : undefined;
    child.stdout!.on("data", (b: Buffer) => (stdout += b));
    child.stderr!.on("data", (b: Buffer) => (stderr += b));
    if (o.onLine) {
      createInterface({ input: child.stdout! }).on("line", o.onLine);
      createInterface({ input: child.stderr! }).on("line", o.onLine);
    }
    if (o.input !== undefined) child.stdin!.end(o.input);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject((err as NodeJS.ErrnoException).code === "ENOENT" ? new EnvironmentError(installHint(cmd)) : err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** The last lines of a command's output, for error messages. */
export function outputTail(r: CommandResult, lines = 15): string {
  const all = (r.stdout + "\n" + r.stderr).split("\n").filter((l) => l.trim());
  return all.slice(-lines).join("\n");
}

/** Runs a command that must succeed; the error names it, its exit code and its last output lines. */
export async function must(
  cmd: string,
  args: string[],
  o: CommandOptions & { what?: string; error?: new (m: string) => Error } = {},
): Promise<CommandResult> {
  const r = await runCommand(cmd, args, o);
  if (r.code !== 0) {
    const Err = o.error ?? EnvironmentError;
    const why = r.code === 124 && o.timeoutMs ? `timed out after ${Math.round(o.timeoutMs / 1000)} s` : `exit code ${r.code}`;
    throw new Err(`${o.what ? `${o.what}: ` : ""}\`${[cmd, ...args].join(" ")}\` failed (${why}):\n${outputTail(r) || "(no output)"}`);
  }
  return r;
}
