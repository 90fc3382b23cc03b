// Reads what Galley's callback (harness/plugins/ansible/galley_events.py) wrote during an ansible-playbook run: one
// JSON line per task result and one recap per host. Ansible's own verdict, per node: which tasks
// changed (the idempotence check fails on any), which failed or could not reach the node. Pure.
import { tail } from "../../util/lines.ts";

interface TaskEvent {
  kind: "ok" | "failed" | "unreachable";
  host: string;
  play: string;
  task: string;
  handler: boolean;
  changed?: boolean;
  ignored?: boolean;
  msg?: string;
  stdout?: string;
  stderr?: string;
  rc?: number | null;
}

export interface Recap {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failures: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface HostFailure {
  host: string;
  /** `task "name" in play "play"` */
  task: string;
  unreachable: boolean;
  /** What the task said: its message, then the tail of its stderr and stdout. */
  said: string;
}

export interface RunEvents {
  /** Per host: one line per changed task, in the order they ran. */
  changes: Record<string, string[]>;
  failures: HostFailure[];
  recaps: Recap[];
}

function what(e: TaskEvent): string {
  return `${e.handler ? "handler" : "task"} "${e.task}" in play "${e.play}"`;
}

export function parseEvents(text: string): RunEvents {
  const changes: Record<string, string[]> = {};
  const failures: HostFailure[] = [];
  const recaps: Recap[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let e: (TaskEvent | (Recap & { kind: "recap" }));
    try {
      e = JSON.parse(raw);
    } catch {
      continue; // a line cut short by a killed run
    }
    if (e.kind === "recap") {
      const { kind: _, ...recap } = e;
      recaps.push(recap);
      continue;
    }
    changes[e.host] ??= [];
    // A failed task can have changed something before failing; it counts as a change too.
    if (e.changed) changes[e.host]!.push(what(e));
    if ((e.kind === "failed" && !e.ignored) || e.kind === "unreachable") {
      const said = [e.msg, e.rc !== undefined && e.rc !== null ? `(exit code ${e.rc})` : "", tail(e.stderr ?? "", 10), tail(e.stdout ?? "", 5)]
        .filter((s) => s && s.trim())
        .join("\n");
      failures.push({ host: e.host, task: what(e), unreachable: e.kind === "unreachable", said });
    }
  }
  return { changes, failures, recaps };
}

/** One console line per node: `infra0: ok=31 changed=12 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0`. */
export function recapLine(r: Recap): string {
  return `${r.host}: ok=${r.ok} changed=${r.changed} unreachable=${r.unreachable} failed=${r.failures} skipped=${r.skipped} rescued=${r.rescued} ignored=${r.ignored}`;
}
