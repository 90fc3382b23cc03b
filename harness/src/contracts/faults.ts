// Faults as data, shared by the suite API (which asks for them), the engine (which records them and has
// the driver act) and the CLI (`galley fault`, `galley chaos`). One shape for all of them, so a fault a
// suite asked for, a fault in a chaos schedule and a fault typed on the command line are the same thing.

/** Verbs on one whole node. */
export type NodeVerb = "crash" | "stop" | "start" | "isolate" | "rejoin" | "pause" | "resume";
export const NODE_VERBS: readonly NodeVerb[] = ["crash", "stop", "start", "isolate", "rejoin", "pause", "resume"];

/** What happens to the packets one node sends to one peer (netem's vocabulary). */
export interface LinkShape {
  /** Added one-way delay. */
  delayMs?: number;
  /** ± this much around delayMs, uniformly. */
  jitterMs?: number;
  /** Share of packets lost, 0..1. */
  loss?: number;
  /** Share of packets sent twice, 0..1. */
  duplicate?: number;
  /** Share of packets sent at once, ahead of the delayed ones, 0..1. */
  reorder?: number;
  /** Bandwidth, kilobits per second. */
  rateKbit?: number;
}

export type FaultSpec =
  | { kind: NodeVerb; node: string }
  /** SIGSTOP / SIGCONT to every process of one unit (the unit stays "active" to systemd). */
  | { kind: "pause-unit" | "resume-unit"; node: string; unit: string }
  /** No packets between nodes of different groups, either way; nodes in no group are untouched. */
  | { kind: "partition"; groups: string[][] }
  /** What each `from` node sends to each `to` node is lost; `to` still reaches `from` (one way). */
  | { kind: "drop"; from: string[]; to: string[] }
  /** What each `from` node sends to each `to` node is delayed, lost, duplicated, reordered, throttled. */
  | { kind: "degrade"; from: string[]; to: string[]; shape: LinkShape }
  /** Undo faults: the network ones (partition, drop, degrade), or all (also resume, rejoin, start). */
  | { kind: "heal"; scope?: "network" | "all" };

export type FaultKind = FaultSpec["kind"];
export const FAULT_KINDS: readonly FaultKind[] = [...NODE_VERBS, "pause-unit", "resume-unit", "partition", "drop", "degrade", "heal"];
export const NETWORK_KINDS: readonly FaultKind[] = ["partition", "drop", "degrade"];

/** The nodes a fault touches (empty for heal: it touches whatever is faulty). */
export function nodesOf(f: FaultSpec): string[] {
  switch (f.kind) {
    case "partition":
      return [...new Set(f.groups.flat())];
    case "drop":
    case "degrade":
      return [...new Set([...f.from, ...f.to])];
    case "heal":
      return [];
    default:
      return [f.node];
  }
}

/** One line for logs, `galley list` and the report: "partition infra0,infra1 | infra2". */
export function describeFault(f: FaultSpec): string {
  switch (f.kind) {
    case "partition":
      return `partition ${f.groups.map((g) => g.join(",")).join(" | ")}`;
    case "drop":
      return `drop ${f.from.join(",")} → ${f.to.join(",")}`;
    case "degrade":
      return `degrade ${f.from.join(",")} → ${f.to.join(",")} ${describeShape(f.shape)}`;
    case "heal":
      return `heal${f.scope === "network" ? " network" : ""}`;
    case "pause-unit":
    case "resume-unit":
      return `${f.kind} ${f.node} ${f.unit}`;
    default:
      return `${f.kind} ${f.node}`;
  }
}

export function describeShape(s: LinkShape): string {
  const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;
  return [
    s.delayMs !== undefined && `delay ${s.delayMs}${s.jitterMs ? `±${s.jitterMs}` : ""} ms`,
    s.loss && `loss ${pct(s.loss)}`,
    s.duplicate && `duplicate ${pct(s.duplicate)}`,
    s.reorder && `reorder ${pct(s.reorder)}`,
    s.rateKbit && `rate ${s.rateKbit} kbit/s`,
  ].filter(Boolean).join(", ") || "no change";
}

/** Problems with a fault's own data (ranges, empty lists), before any node is looked up. */
export function shapeProblems(s: LinkShape): string[] {
  const out: string[] = [];
  for (const k of ["loss", "duplicate", "reorder"] as const) {
    const v = s[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) out.push(`${k} must be between 0 and 1 (a share), not ${v}`);
  }
  for (const k of ["delayMs", "jitterMs", "rateKbit"] as const) {
    const v = s[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) out.push(`${k} must be a number ≥ 0, not ${v}`);
  }
  if ((s.jitterMs ?? 0) > (s.delayMs ?? 0)) out.push(`jitter (${s.jitterMs} ms) must not exceed the delay (${s.delayMs ?? 0} ms)`);
  if (s.rateKbit === 0) out.push("rateKbit 0 would stop every packet: use drop instead");
  return out;
}

/** The GALLEY_HARMLESS_FAULTS family a fault belongs to (rejoin follows isolate, resume follows pause…). */
export function harmlessFamily(kind: FaultKind): string | undefined {
  const family: Partial<Record<FaultKind, string>> = {
    crash: "crash", stop: "stop", isolate: "isolate", rejoin: "isolate", pause: "pause", resume: "pause",
    "pause-unit": "pause-unit", "resume-unit": "pause-unit", partition: "partition", drop: "drop", degrade: "degrade",
  };
  return family[kind];
}

/** Faults made no-ops by GALLEY_HARMLESS_FAULTS=crash,partition,… (or all): start and heal never are. */
export function isHarmless(kind: FaultKind, env = process.env.GALLEY_HARMLESS_FAULTS ?? ""): boolean {
  const listed = env.split(",").map((s) => s.trim()).filter(Boolean);
  const family = harmlessFamily(kind);
  return family !== undefined && (listed.includes(family) || listed.includes("all"));
}

/** Nodes chosen by role, as Jepsen's nemesis targets them. `leader` needs a suite that can find one. */
export type Role = "one" | "minority" | "majority" | "all" | "leader";
export const ROLES: readonly Role[] = ["one", "minority", "majority", "all", "leader"];

/** How many nodes a role takes out of n (leader: one). */
export function roleSize(role: Exclude<Role, "leader">, n: number): number {
  switch (role) {
    case "one":
      return Math.min(1, n);
    case "minority":
      return Math.floor((n - 1) / 2);
    case "majority":
      return Math.floor(n / 2) + 1;
    case "all":
      return n;
  }
}
