// How Galley runs commands on a node. Exit codes are data, not errors: only a command that could not
// be run at all throws (TransportFailed).
import type { BoxAddress } from "../contracts/attach.ts";

export type { BoxAddress } from "../contracts/attach.ts";

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ExecOptions {
  /** Killed (exit 124) after this long. */
  timeoutMs?: number;
  user?: string;
  env?: Record<string, string>;
  /** Called with output as it arrives (for logs and progress). */
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
}

export interface Connection {
  /** Runs `script` with bash as a login shell, errexit and pipefail on. */
  exec(script: string, options?: ExecOptions): Promise<ExecResult>;
  /** Copies a local folder's content into `remoteDir` (created if missing). */
  upload(localDir: string, remoteDir: string): Promise<void>;
  close(): Promise<void>;
}

export interface Transport {
  readonly name: string;
  /** Opens a connection to one box; throws TransportFailed when it cannot be reached at all. */
  connect(box: BoxAddress): Promise<Connection>;
  /** argv for an interactive shell on the box (`galley login`). */
  loginCommand(box: BoxAddress): string[];
}

/** bash -lc with strict mode, wrapped in coreutils timeout so a hung command cannot hang Galley. */
export function wrapScript(script: string, timeoutMs: number): string[] {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  return ["timeout", "--kill-after=5", String(secs), "bash", "-lc", `set -eo pipefail\n${script}`];
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
