// Invariants polled for a whole run (the NixOS test driver's polling conditions), and chaos(): the check
// that runs the fault schedule `galley chaos` hands the suite while the invariants poll. Every poll and
// every step goes to the runner (verify.json, then chaos.json and the report), each with its time.
import { readFileSync } from "node:fs";
import { describeFault, type FaultSpec } from "../contracts/faults.ts";
import { messageOf } from "../errors.ts";
import type { Cluster } from "./cluster.ts";
import type { Node } from "./node.ts";
import { skipIf } from "./skip.ts";

/** One poll of one invariant (on one node, for a per-node invariant). */
export interface PollResult {
  invariant: string;
  node?: string;
  /** Epoch ms when the poll began. */
  at: number;
  ms: number;
  ok: boolean;
  message?: string;
}

/** One step of a chaos schedule as it ran: the fault with its roles resolved. */
export interface ChaosStepResult {
  step: number;
  /** Planned offset from the start (ms) and when it ran (epoch ms). */
  planned: number;
  at: number;
  spec: FaultSpec;
  label: string;
  error?: string;
}

const SINK = Symbol.for("galley.timeline");
type Sink = { poll(p: PollResult): void; step(s: ChaosStepResult): void };
const sink = () => (globalThis as Record<symbol, Sink | undefined>)[SINK];

export function installTimelineSink(s: Sink): void {
  (globalThis as Record<symbol, Sink | undefined>)[SINK] = s;
}

export interface InvariantOptions<N> {
  /** How often (default 3 s, measured from the end of one poll to the start of the next). */
  everyMs?: number;
  /** Poll once per node (the check gets the node); default: once for the cluster. */
  each?: () => N[];
}

interface Running {
  name: string;
  failures: PollResult[];
  polls: number;
  reported: boolean;
}
const active = new Set<Running>();

/**
 * Checks `check` every few seconds from the suite's start to its end. A poll that throws breaks the
 * invariant; the suite fails at its end listing each time it broke (chaos() reports them itself).
 */
export function invariant<N extends Node<any> = Node>(name: string, check: (node?: N) => Promise<unknown>, o: InvariantOptions<N> = {}): void {
  const every = o.everyMs ?? 3000;
  const me: Running = { name, failures: [], polls: 0, reported: false };
  let stopped = false;
  let loop: Promise<void> | undefined;
  const pollOnce = async (node?: N) => {
    const at = Date.now();
    let result: PollResult;
    try {
      await check(node);
      result = { invariant: name, ...(node ? { node: node.name } : {}), at, ms: Date.now() - at, ok: true };
    } catch (err) {
      result = { invariant: name, ...(node ? { node: node.name } : {}), at, ms: Date.now() - at, ok: false, message: messageOf(err).split("\n").slice(0, 6).join("\n") };
      me.failures.push(result);
    }
    me.polls++;
    sink()?.poll(result);
  };
  before(function () {
    active.add(me);
    loop = (async () => {
      while (!stopped) {
        await (o.each ? Promise.all(o.each().map((n) => pollOnce(n))) : pollOnce());
        for (let waited = 0; waited < every && !stopped; waited += 100) await new Promise((r) => setTimeout(r, 100));
      }
    })();
  });
  after(async function () {
    stopped = true;
    await loop;
    active.delete(me);
    if (me.failures.length && !me.reported) throw new Error(brokeMessage([me]));
  });
}

function brokeMessage(list: Running[]): string {
  return list.filter((r) => r.failures.length).map((r) => {
    const first = r.failures.slice(0, 5).map((f) => `    ${new Date(f.at).toISOString().slice(11, 23)}${f.node ? ` ${f.node}` : ""}: ${f.message}`).join("\n");
    return `invariant "${r.name}" broke ${r.failures.length} of ${r.polls} polls:\n${first}${r.failures.length > 5 ? "\n    …" : ""}`;
  }).join("\n");
}

interface Schedule {
  durationMs: number;
  steps: { at: number; spec: FaultSpec; undoes?: number }[];
}

/**
 * The check that runs `galley chaos`'s schedule (GALLEY_CHAOS names the file) while the suite's
 * invariants poll: each step at its time ("@leader" resolved with the suite's leader function), a step
 * that fails is recorded and the run goes on, everything is healed at the end, and the check fails if
 * any invariant broke. Outside a chaos run it is skipped, saying so.
 */
export function chaos<A extends object>(cluster: Cluster<A>): void {
  it("runs the chaos schedule while the invariants poll, then heals everything", async function () {
    const file = process.env.GALLEY_CHAOS;
    skipIf(this, !file, "not a chaos run (`galley chaos INSTANCE` gives this check its schedule)");
    const schedule = JSON.parse(readFileSync(file!, "utf8")) as Schedule;
    this.timeout(schedule.durationMs + 300_000);
    const start = Date.now();
    const hit = new Map<number, string>();
    const errors: string[] = [];
    for (const [i, step] of schedule.steps.entries()) {
      const wait = start + step.at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const at = Date.now();
      let spec = step.spec;
      try {
        if ("node" in spec && spec.node === "@leader") {
          const node = step.undoes !== undefined ? hit.get(step.undoes) : (await cluster.leader()).name;
          if (!node) throw new Error(`step ${step.undoes} never hit a node, nothing to undo`);
          spec = { ...spec, node };
        }
        if ("node" in spec) hit.set(i, spec.node);
        await cluster.faults.apply(spec);
        sink()?.step({ step: i, planned: step.at, at, spec, label: describeFault(spec) });
        console.log(`      +${((at - start) / 1000).toFixed(1)} s ${describeFault(spec)}`);
      } catch (err) {
        errors.push(`step ${i} (${describeFault(spec)}): ${messageOf(err)}`);
        sink()?.step({ step: i, planned: step.at, at, spec, label: describeFault(spec), error: messageOf(err) });
        console.log(`      +${((at - start) / 1000).toFixed(1)} s ${describeFault(spec)}: FAILED ${messageOf(err).split("\n")[0]}`);
      }
    }
    // One more round of polls on the healed cluster, then judge.
    await new Promise((r) => setTimeout(r, 3500));
    const running = [...active];
    for (const r of running) r.reported = true;
    const broke = brokeMessage(running);
    if (broke || errors.length) throw new Error([broke, errors.length ? `faults that could not be applied:\n  ${errors.join("\n  ")}` : ""].filter(Boolean).join("\n"));
  });
}
