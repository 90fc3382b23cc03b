// Where a converge's seconds go. Fed every line the instance log receives while a converge runs (with
// the time it arrived), it times each node's upload (converge start → the node's `$ <script>` line),
// each provisioning step (`--- NAME` markers, the convention of the shell helper library and the fleet
// fixture), the waits and timed work the provisioning reports itself (`waited 1.23 s for WHAT`,
// `took 1.23 s to WHAT`, as the helpers' wait_for and timed print them), and the run's end
// (`exit N after M ms`, written by the converge template). The summary is one line: per step the
// slowest node (steps run in parallel on every node, so the slowest is what the converge waits for),
// and the total the provisioning spent waiting rather than working, so a user sees what to cut.
// Leaf module: knows no provisioner, only these line shapes.

export interface Span {
  /** "upload", a step name, "cluster" (a `<node> cluster` source's own steps are prefixed "cluster/"). */
  name: string;
  ms: number;
}

export interface Report {
  /** How long each part took on the node that took longest for it. */
  kind: "step" | "wait" | "work";
  name: string;
  ms: number;
  node: string;
}

interface Run {
  /** When the log received the run's `$ …` line. */
  startedAt?: number;
  step?: { name: string; at: number };
  steps: Span[];
  /** Waits and timed work the provisioning reported, in the step it reported them in. */
  reports: { kind: "wait" | "work"; step: string; name: string; ms: number }[];
  endedAt?: number;
}

const STEP = /^--- (\S+)$/;
const WAITED = /^waited (\d+(?:\.\d+)?) s for (.+)$/;
const TOOK = /^took (\d+(?:\.\d+)?) s to (.+)$/;
const EXIT = /^exit -?\d+ after (\d+) ms$/;

export class StepTimings {
  private runs = new Map<string, Run>();

  constructor(private readonly startedAt: number) {}

  /** One line the instance log received from `source` (a node name, or "<node> cluster"). */
  line(source: string, text: string, at: number): void {
    if (text.startsWith("$ ")) {
      // A node's provisioning run starts (a source runs one script per converge; a second `$` starts anew).
      this.runs.set(source, { startedAt: at, steps: [], reports: [] });
      return;
    }
    const run = this.runs.get(source);
    if (!run || run.endedAt !== undefined) return;
    let m: RegExpExecArray | null;
    if ((m = STEP.exec(text))) {
      this.closeStep(run, at);
      run.step = { name: m[1]!, at };
    } else if ((m = WAITED.exec(text)) || (m = TOOK.exec(text))) {
      run.reports.push({ kind: text.startsWith("waited") ? "wait" : "work", step: run.step?.name ?? "", name: m[2]!, ms: Math.round(Number(m[1]) * 1000) });
    } else if (EXIT.test(text)) {
      this.closeStep(run, at);
      run.endedAt = at;
    }
  }

  private closeStep(run: Run, at: number): void {
    if (run.step) run.steps.push({ name: run.step.name, ms: at - run.step.at });
    run.step = undefined;
  }

  /** Per part, the node that took longest: uploads, steps (cluster steps named "cluster…"), waits, timed work. */
  reports(): Report[] {
    const worst = new Map<string, Report>();
    const keep = (r: Report) => {
      const key = `${r.kind}\0${r.name}`;
      if ((worst.get(key)?.ms ?? -1) < r.ms) worst.set(key, r);
    };
    for (const [source, run] of this.runs) {
      const cluster = source.endsWith(" cluster");
      const node = cluster ? source.slice(0, -" cluster".length) : source;
      if (run.startedAt === undefined) continue;
      if (cluster) {
        // The cluster phase is one step (its own markers, if any, are parts of it).
        if (run.endedAt !== undefined) keep({ kind: "step", name: "cluster", ms: run.endedAt - run.startedAt, node });
      } else {
        keep({ kind: "step", name: "upload", ms: run.startedAt - this.startedAt, node });
        for (const s of run.steps) keep({ kind: "step", name: s.name, ms: s.ms, node });
      }
      for (const r of run.reports) keep({ kind: r.kind, name: `${cluster ? "cluster" : r.step}: ${r.name}`, ms: r.ms, node });
    }
    return [...worst.values()];
  }

  /**
   * One line: `upload 0.6 · 00-machine-id 0.1 · … · 30-docker 2.9 (waited 1.8 for docker to start; took 0.9 to
   * build the busybox image) · cluster 4.2 (waited 1.5 for etcd …) — waiting 5.1 s of 9.8 s`, seconds on the
   * slowest node of each part.
   */
  summary(totalMs: number): string {
    const reports = this.reports();
    const steps = reports.filter((r) => r.kind === "step");
    const parts = steps.map((s) => {
      const inner = reports
        .filter((r) => r.kind !== "step" && r.name.startsWith(`${s.name}: `))
        .map((r) => `${r.kind === "wait" ? "waited" : "took"} ${secs(r.ms)} ${r.kind === "wait" ? "for" : "to"} ${r.name.slice(s.name.length + 2)}`);
      return `${s.name} ${secs(s.ms)}${inner.length ? ` (${inner.join("; ")})` : ""}`;
    });
    // Waits on the critical path: per step the slowest node's waits (steps of one node run in sequence).
    const waited = reports.filter((r) => r.kind === "wait").reduce((sum, r) => sum + r.ms, 0);
    return `${parts.join(" · ") || "no steps seen"} — waiting ${secs(waited)} s of ${secs(totalMs)} s (seconds on the slowest node of each part)`;
  }
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

/**
 * Phases told by progress messages (a driver's create: "box …", "booting 3 nodes", "waiting for systemd
 * on 3 nodes", …): each lasts until the next message. One line, as `summary` above.
 */
export class PhaseClock {
  private phases: { name: string; at: number }[] = [];

  mark(name: string, at: number): void {
    // A phase reporting its own progress ("provisioned 2/3 nodes") is still that phase.
    const last = this.phases.at(-1);
    if (last && numberless(last.name) === numberless(name)) return;
    this.phases.push({ name, at });
  }

  summary(endAt: number): string {
    return this.phases.map((p, i) => `${p.name} ${secs((this.phases[i + 1]?.at ?? endAt) - p.at)}`).join(" · ") || "no phases seen";
  }
}

const numberless = (text: string) => text.replace(/\d+/g, "N");
