// A chaos schedule: faults at set times, chosen by a seeded generator, so the same seed gives the same
// schedule on any machine and a schedule saved as JSON runs again exactly (`galley chaos --replay`).
// One fault at a time, each held a few seconds and then undone, with quiet gaps between; everything is
// healed at the end. Roles are resolved here (which minority, which node) except the leader, which only
// the running cluster knows: "@leader" in a step is resolved by the checks when the step runs.
import { NETWORK_KINDS, type FaultSpec } from "../contracts/faults.ts";
import { UserError } from "../errors.ts";
import { prng } from "../util/prng.ts";

export const CHAOS_FAULTS = ["partition", "drop", "degrade", "pause", "crash"] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/** The node a step names when it means "whoever leads when the step runs". */
export const LEADER = "@leader";

export interface ChaosStep {
  /** Milliseconds from the start of the run. */
  at: number;
  spec: FaultSpec;
  /** Index of the step this one undoes (its "@leader" resolves to the node that step hit). */
  undoes?: number;
}

export interface ChaosSchedule {
  format: 1;
  seed: number;
  durationMs: number;
  faults: ChaosFault[];
  nodes: string[];
  steps: ChaosStep[];
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  faults: ChaosFault[];
  nodes: string[];
  /** Offer "@leader" as a target (the checks know how to find it). */
  leader?: boolean;
}

export function parseChaosFaults(list: string): ChaosFault[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(CHAOS_FAULTS as readonly string[]).includes(n));
  if (unknown.length || !names.length) throw new UserError(`--faults takes a list of ${CHAOS_FAULTS.join(", ")}${unknown.length ? `, not ${unknown.join(", ")}` : ""}`);
  return [...new Set(names)] as ChaosFault[];
}

export function makeSchedule(o: ScheduleOptions): ChaosSchedule {
  if (o.nodes.length < 2) throw new UserError(`chaos needs at least 2 nodes (has ${o.nodes.length})`);
  if (o.durationMs < 10_000) throw new UserError(`--duration must be at least 10s (a fault is held 3 s or more, with gaps), not ${o.durationMs / 1000}s`);
  const rng = prng(o.seed);
  const steps: ChaosStep[] = [];
  const end = o.durationMs - 2000;
  const target = () => (o.leader && rng.next() < 0.3 ? LEADER : rng.pick(o.nodes));
  for (let t = rng.int(1000, 3000); ; ) {
    const hold = rng.int(3000, 8000);
    if (t + hold > end) break;
    const kind = rng.pick(o.faults);
    const i = steps.length;
    let spec: FaultSpec;
    let undo: FaultSpec;
    switch (kind) {
      case "partition": {
        const minority = rng.shuffle(o.nodes).slice(0, Math.max(1, Math.floor((o.nodes.length - 1) / 2)));
        spec = { kind: "partition", groups: [minority, o.nodes.filter((n) => !minority.includes(n))] };
        undo = { kind: "heal", scope: "network" };
        break;
      }
      case "drop": {
        const from = rng.pick(o.nodes);
        spec = { kind: "drop", from: [from], to: o.nodes.filter((n) => n !== from) };
        undo = { kind: "heal", scope: "network" };
        break;
      }
      case "degrade": {
        const delayMs = rng.int(5, 30) * 10;
        spec = { kind: "degrade", from: [...o.nodes], to: [...o.nodes], shape: { delayMs, jitterMs: Math.floor(delayMs / 4), loss: rng.int(0, 5) / 100 } };
        undo = { kind: "heal", scope: "network" };
        break;
      }
      case "pause": {
        const node = target();
        spec = { kind: "pause", node };
        undo = { kind: "resume", node };
        break;
      }
      case "crash": {
        const node = rng.pick(o.nodes);
        spec = { kind: "crash", node };
        undo = { kind: "start", node };
        break;
      }
    }
    steps.push({ at: t, spec }, { at: t + hold, spec: undo, undoes: i });
    t += hold + rng.int(2000, 5000);
  }
  steps.push({ at: o.durationMs, spec: { kind: "heal", scope: "all" } });
  return { format: 1, seed: o.seed, durationMs: o.durationMs, faults: [...o.faults], nodes: [...o.nodes], steps };
}

/** A schedule read back from JSON (a chaos.json or a schedule file), checked against the instance's nodes. */
export function readSchedule(json: unknown, nodes: string[], file: string): ChaosSchedule {
  const s = ((json as { schedule?: unknown })?.schedule ?? json) as ChaosSchedule;
  if (s?.format !== 1 || !Array.isArray(s.steps)) throw new UserError(`${file}: not a chaos schedule (expected format 1 with steps, as galley chaos writes it)`);
  const missing = s.nodes.filter((n) => !nodes.includes(n));
  if (missing.length) throw new UserError(`${file}: the schedule names ${missing.join(", ")}, which this instance does not have (nodes: ${nodes.join(", ")})`);
  return s;
}

export const isNetworkStep = (s: ChaosStep) => (NETWORK_KINDS as readonly string[]).includes(s.spec.kind);
