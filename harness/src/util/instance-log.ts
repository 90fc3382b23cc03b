// One log file per instance (.galley/<instance>/galley.log): every command, its output and timing, tagged
// with the node. The console stays quiet; this file has the whole story.
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";

export class InstanceLog {
  readonly file: string;
  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.file = path.join(stateDir, "galley.log");
  }
  write(source: string, text: string): void {
    const stamp = new Date().toISOString();
    const body = text.endsWith("\n") ? text : text + "\n";
    appendFileSync(this.file, body.split("\n").slice(0, -1).map((l) => `${stamp} [${source}] ${l}`).join("\n") + "\n");
  }
}
