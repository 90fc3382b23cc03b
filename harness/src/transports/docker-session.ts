// One long-lived shell per node for short commands, as the NixOS test driver keeps a root shell on each
// machine: a `docker exec` costs ~50 ms of Docker's own work (create, start, inspect) before the command
// runs, and a verification issues dozens of short commands in a row. The session runs each request as
// its own `timeout … bash -lc` (same environment and strictness as a plain exec), concurrently, and
// answers with the exit code and both outputs. It never guesses: a request that cannot be answered for
// sure (the container is paused, stopped or restarted) is either reported as not run, for the caller to
// use a plain exec, or ends as a plain exec that was cut off would (exit -1).
import type { Duplex } from "node:stream";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { shellQuote, wrapScript, type ExecResult } from "./transport.ts";

/**
 * The shell inside the box. Each request line is `<id> <not-after ms> <base64 command line>`; each
 * answer line is `<id> <exit code> <base64 stdout> <base64 stderr>`, or `<id> x` when the request was
 * read after its not-after time (the container was frozen meanwhile: it is not run, so a command the box
 * had not read before it froze never runs late, after the caller gave up on it), or `<id> lost <exit
 * code>` when the command ran but its output could not be read back. A lock keeps answers whole.
 */
export const SESSION_SHELL = [
  "set +e",
  // Not /tmp: systemd mounts a fresh tmpfs there while a box boots, hiding files made before.
  'dir=/dev/shm; [ -d "$dir" ] && [ -w "$dir" ] || dir=/run',
  'lock=$(mktemp -p "$dir"); trap \'rm -f "$lock"\' EXIT',
  // Milliseconds since the epoch without a fork where bash has EPOCHREALTIME (5.0+).
  'now() { local t=${EPOCHREALTIME:-}; if [ -n "$t" ]; then t=${t/[.,]/}; NOW=${t:0:13}; else NOW=$(date +%s%3N); fi; }',
  "while read -r id notafter cmd; do",
  "  (",
  '    now; if [ "$NOW" -gt "$notafter" ]; then reply="$id x"; else',
  '      o=$(mktemp -p "$dir") e=$(mktemp -p "$dir")',
  '      (eval "$(printf %s "$cmd" | base64 -d)") </dev/null >"$o" 2>"$e"',
  "      rc=$?",
  '      if out=$(base64 -w0 <"$o") && err=$(base64 -w0 <"$e"); then reply="$id $rc $out $err"; else reply="$id lost $rc"; fi',
  '      rm -f "$o" "$e"',
  "    fi",
  "    flock 9",
  "    printf '%s\\n' \"$reply\"",
  '  ) 9>>"$lock" &',
  "done",
  "wait",
].join("\n");

/** What a request came to: an answer, or "not run" (the caller runs it with a plain exec instead). */
export type SessionOutcome = ExecResult | "not-run";

/** How long a request may wait to be read before the box must drop it instead of running it. */
const READ_WITHIN_MS = 2_000;

interface Pending {
  resolve(r: SessionOutcome): void;
  start: number;
  /** The shell it was sent to: only that shell's end cuts it off. */
  shell: Duplex;
  timer: NodeJS.Timeout;
}

/** The command line a request runs: the same argv as a plain exec, with its environment in front. */
export function sessionCommand(script: string, timeoutMs: number, env: Record<string, string> = {}): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [...(vars.length ? ["env", ...vars] : []), ...wrapScript(script, timeoutMs)].map(shellQuote).join(" ");
}

type Answer = { id: number; outcome: "not-run" | { exitCode: number; stdout: string; stderr: string } };

const LOST = "the command ran (exit %s) but the node's session shell could not read its output back";

/** Parses one answer line; undefined for a line that is not one (a stray line of the shell's own). */
export function parseAnswer(line: string): Answer | undefined {
  const m = /^(\d+) (?:(x)|lost (\d+)|(\d+) ([A-Za-z0-9+/=]*) ([A-Za-z0-9+/=]*))$/.exec(line);
  if (!m) return undefined;
  if (m[2]) return { id: Number(m[1]), outcome: "not-run" };
  // Whatever the command said is gone: not a result anyone may read as the command's (exit -1).
  if (m[3]) return { id: Number(m[1]), outcome: { exitCode: -1, stdout: "", stderr: LOST.replace("%s", m[3]) } };
  const text = (b64: string) => Buffer.from(b64, "base64").toString();
  return { id: Number(m[1]), outcome: { exitCode: Number(m[4]), stdout: text(m[5]!), stderr: text(m[6]!) } };
}

export class DockerSession {
  private stream?: Promise<Duplex>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Requests the box read too late to run. When that keeps happening (a remote engine whose clock is
   * ahead of ours), the session is given up and every command goes through a plain exec. */
  private lateReads = 0;
  private disabled = false;

  constructor(private readonly container: Docker.Container) {}

  /** Runs a command line (see sessionCommand) and answers, or says it was not run. */
  async run(command: string, timeoutMs: number): Promise<SessionOutcome> {
    if (this.disabled) return "not-run";
    let stream: Duplex;
    try {
      stream = await this.open();
    } catch {
      this.stream = undefined;
      return "not-run"; // e.g. paused: a plain exec says why in Docker's own words
    }
    const id = this.nextId++;
    const start = Date.now();
    return new Promise<SessionOutcome>((resolve) => {
      // No answer by the read-within time: ask Docker why. A frozen or stopped box can no longer run the
      // request late (it would read it expired), so it goes back to the caller; a running one is given
      // until the command's own timeout (enforced in the box) and then some.
      const check = async (): Promise<void> => {
        const state = await this.container.inspect().then((i) => i.State, () => undefined);
        if (!this.pending.has(id)) return;
        if (!state?.Running || state.Paused) return this.settle(id, "not-run");
        if (Date.now() - start > timeoutMs + 15_000) {
          return this.settle(id, { exitCode: -1, stdout: "", stderr: `no answer from the node's session shell ${Math.round((Date.now() - start) / 1000)} s after the command was sent`, ms: Date.now() - start });
        }
        entry.timer = setTimeout(() => void check(), 5_000);
      };
      const entry: Pending = { resolve, start, shell: stream, timer: setTimeout(() => void check(), READ_WITHIN_MS + 500) };
      this.pending.set(id, entry);
      stream.write(`${id} ${start + READ_WITHIN_MS} ${Buffer.from(command).toString("base64")}\n`);
    });
  }

  /** Ends the shell (it exits once its stdin closes; requests still running finish on their own). */
  close(): void {
    const s = this.stream;
    this.stream = undefined;
    void s?.then((d) => d.end(), () => {});
  }

  private open(): Promise<Duplex> {
    this.stream ??= (async () => {
      const exec = await this.container.exec({ Cmd: ["bash", "-c", SESSION_SHELL], AttachStdin: true, AttachStdout: true, AttachStderr: true, User: "root" });
      const duplex = (await exec.start({ hijack: true, stdin: true })) as Duplex;
      // Answers are single lines, a journal's worth of base64 long at times: chunks wait for their newline.
      const partial: Buffer[] = [];
      const stdout = new PassThrough().on("data", (b: Buffer) => {
        for (let nl = b.indexOf(10); nl >= 0; nl = b.indexOf(10)) {
          partial.push(b.subarray(0, nl));
          this.onAnswer(Buffer.concat(partial.splice(0)).toString());
          b = b.subarray(nl + 1);
        }
        if (b.length) partial.push(b);
      });
      this.container.modem.demuxStream(duplex, stdout, new PassThrough().resume());
      const ended = () => this.ended(duplex);
      duplex.on("end", ended).on("close", ended).on("error", ended);
      // The socket alone never keeps the process alive: each pending request's timer does.
      (duplex as unknown as { unref?(): void }).unref?.();
      return duplex;
    })();
    return this.stream;
  }

  private onAnswer(line: string): void {
    const answer = parseAnswer(line);
    if (!answer) return;
    if (answer.outcome === "not-run" && ++this.lateReads >= 3) this.disabled = true;
    const start = this.pending.get(answer.id)?.start ?? Date.now();
    this.settle(answer.id, answer.outcome === "not-run" ? "not-run" : { ...answer.outcome, ms: Date.now() - start });
  }

  /** The shell is gone (the container stopped or restarted): what was running was cut off, as a plain
   * exec's command would be (exit -1). The next request opens a new shell. */
  private ended(duplex: Duplex): void {
    const current = this.stream;
    void current?.then((d) => d === duplex && this.stream === current && (this.stream = undefined), () => {});
    for (const [id, p] of this.pending) {
      if (p.shell === duplex) this.settle(id, { exitCode: -1, stdout: "", stderr: "the node's container stopped while the command ran", ms: Date.now() - p.start });
    }
  }

  private settle(id: number, outcome: SessionOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.resolve(outcome);
  }
}
