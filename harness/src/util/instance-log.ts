// One log file per instance (.galley/<instance>/galley.log): every command, its output and timing, tagged
// with the node. The console stays quiet; this file has the whole story of the last command: each
// command starts it anew (startRun), keeping the previous three as galley.log.1 … galley.log.3. A poll
// that logs the same thing again and again (a check waiting for a unit) is written once, then
// "… repeated N times".
import { appendFileSync, existsSync, mkdirSync, renameSync } from "node:fs";
import path from "node:path";

/** How many earlier commands' logs are kept beside galley.log. */
export const KEPT_LOGS = 3;

/** Logs with a summary still to write, flushed when the process exits. */
const pending = new Set<InstanceLog>();
let flushOnExit = false;

/** Durations differ from one poll to the next; what was run and what it said do not. */
const sameness = (text: string) => text.replace(/\(\d+ ms\)/g, "(… ms)");

export class InstanceLog {
  readonly file: string;
  /** Per source: the last entry written, how many times it came again since, and when it last did. */
  private last = new Map<string, { key: string; repeats: number; at: string }>();

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, "galley.log");
  }

  /** A new command: the current log becomes galley.log.1 (and so on, up to KEPT_LOGS); this one starts empty. */
  startRun(command: string): void {
    this.flush();
    for (let i = KEPT_LOGS; i >= 1; i--) {
      const from = i === 1 ? this.file : `${this.file}.${i - 1}`;
      if (existsSync(from)) renameSync(from, `${this.file}.${i}`);
    }
    this.write("galley", `$ ${command} (pid ${process.pid})`);
  }

  write(source: string, text: string): void {
    const stamp = new Date().toISOString();
    const key = sameness(text);
    const last = this.last.get(source);
    if (last?.key === key) {
      last.repeats++;
      last.at = stamp;
      pending.add(this);
      if (!flushOnExit) {
        flushOnExit = true;
        process.on("exit", () => pending.forEach((log) => {
          try {
            log.flush();
          } catch {
            /* its folder is gone (a removed project): nothing to summarise into */
          }
        }));
      }
      return;
    }
    this.summarise(source);
    this.last.set(source, { key, repeats: 0, at: stamp });
    this.append(source, stamp, text);
  }

  /** Writes every pending "… repeated N times" line. */
  flush(): void {
    for (const source of this.last.keys()) this.summarise(source);
    pending.delete(this);
  }

  private summarise(source: string): void {
    const last = this.last.get(source);
    if (!last?.repeats) return;
    this.append(source, last.at, `… repeated ${last.repeats} more time${last.repeats === 1 ? "" : "s"} (the last at ${last.at})`);
    last.repeats = 0;
  }

  private append(source: string, stamp: string, text: string): void {
    const body = text.endsWith("\n") ? text : text + "\n";
    appendFileSync(this.file, body.split("\n").slice(0, -1).map((l) => `${stamp} [${source}] ${l}`).join("\n") + "\n");
  }
}
