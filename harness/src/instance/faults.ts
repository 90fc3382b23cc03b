// The engine's side of faults, pure where it can be: checking a fault against the instance's nodes,
// compiling the network faults in effect into each node's link rules (what the driver applies), the
// per-node faults a verb leaves in effect, and the timeline of faults (.galley/<instance>/faults.jsonl)
// that reports draw fault windows from.
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { describeFault, nodesOf, shapeProblems, type FaultSpec, type LinkShape } from "../contracts/faults.ts";
import { noLinkRules, type LinkRules } from "../drivers/driver.ts";
import { UserError } from "../errors.ts";
import type { ActiveFault } from "../state/state-file.ts";

/** Bad fault data (unknown nodes, overlapping groups, shares above 1) as one message naming each problem. */
export function faultProblems(spec: FaultSpec, nodes: string[]): string[] {
  const out: string[] = [];
  for (const n of nodesOf(spec)) if (!nodes.includes(n)) out.push(`no node ${n} (nodes: ${nodes.join(", ")})`);
  if (spec.kind === "partition") {
    if (spec.groups.length < 2) out.push("a partition needs at least two groups");
    if (spec.groups.some((g) => !g.length)) out.push("a partition group is empty");
    const all = spec.groups.flat();
    const twice = [...new Set(all.filter((n, i) => all.indexOf(n) !== i))];
    if (twice.length) out.push(`${twice.join(", ")} in more than one group`);
  }
  if (spec.kind === "drop" || spec.kind === "degrade") {
    if (!spec.from.length || !spec.to.length) out.push(`${spec.kind} needs nodes on both ends (from: ${spec.from.join(",") || "none"}, to: ${spec.to.join(",") || "none"})`);
    else if (spec.from.every((f) => spec.to.every((t) => t === f))) out.push(`${spec.kind} from a node to itself does nothing`);
  }
  if (spec.kind === "degrade") out.push(...shapeProblems(spec.shape));
  return out;
}

export function checkFault(spec: FaultSpec, nodes: string[], instance: string): void {
  const problems = faultProblems(spec, nodes);
  if (problems.length) throw new UserError(`${describeFault(spec)} on ${instance}: ${problems.join("; ")}`);
}

/**
 * Each node's link rules from the network faults in effect, by peer address. A drop is enforced at both
 * ends (the sender's egress and the receiver's ingress), so it holds while either end restarts; a later
 * degrade of the same direction replaces an earlier one; a dropped direction is not also shaped.
 */
export function compileLinks(links: FaultSpec[], ipOf: Record<string, string>): Record<string, LinkRules> {
  const drops = new Set<string>();
  const shapes = new Map<string, LinkShape>();
  const key = (a: string, b: string) => `${a}\u0000${b}`;
  for (const f of links) {
    if (f.kind === "partition") {
      f.groups.forEach((g, i) => f.groups.forEach((h, j) => {
        if (i !== j) for (const a of g) for (const b of h) drops.add(key(a, b));
      }));
    } else if (f.kind === "drop") {
      for (const a of f.from) for (const b of f.to) if (a !== b) drops.add(key(a, b));
    } else if (f.kind === "degrade") {
      for (const a of f.from) for (const b of f.to) if (a !== b) shapes.set(key(a, b), f.shape);
    }
  }
  const rules: Record<string, LinkRules> = Object.fromEntries(Object.keys(ipOf).map((n) => [n, noLinkRules()]));
  for (const k of drops) {
    const [a, b] = k.split("\u0000") as [string, string];
    rules[a]?.dropTo.push(ipOf[b]!);
    rules[b]?.dropFrom.push(ipOf[a]!);
  }
  for (const [k, shape] of shapes) {
    const [a, b] = k.split("\u0000") as [string, string];
    if (!drops.has(k)) rules[a]?.shape.push({ to: ipOf[b]!, shape });
  }
  for (const r of Object.values(rules)) {
    r.dropFrom.sort();
    r.dropTo.sort();
    r.shape.sort((x, y) => x.to.localeCompare(y.to));
  }
  return rules;
}

export const isEmptyRules = (r: LinkRules) => !r.dropFrom.length && !r.dropTo.length && !r.shape.length;

/** What a verb on one node leaves in effect there. */
export function nodeFaultsAfter(spec: FaultSpec, before: ActiveFault[]): ActiveFault[] {
  const down = (f: ActiveFault) => f === "stopped" || f === "crashed";
  // A node that goes down loses its frozen processes and its frozen state with them.
  const live = (f: ActiveFault) => !down(f) && f !== "paused" && !f.startsWith("paused:");
  switch (spec.kind) {
    case "crash":
      return [...before.filter(live), "crashed"];
    case "stop":
      return [...before.filter(live), "stopped"];
    case "start":
      return before.filter(live);
    case "isolate":
      return [...before.filter((f) => f !== "isolated"), "isolated"];
    case "rejoin":
      return before.filter((f) => f !== "isolated");
    case "pause":
      return [...before.filter((f) => f !== "paused"), "paused"];
    case "resume":
      return before.filter((f) => f !== "paused");
    case "pause-unit":
      return [...before.filter((f) => f !== `paused:${spec.unit}`), `paused:${spec.unit}`];
    case "resume-unit":
      return before.filter((f) => f !== `paused:${spec.unit}`);
    default:
      return before;
  }
}

/** One fault as the timeline records it. */
export interface FaultEvent {
  /** Epoch milliseconds when it took effect (or failed). */
  at: number;
  spec: FaultSpec;
  label: string;
  /** Set when the driver could not do it. */
  error?: string;
}

export function timelineFile(stateDir: string): string {
  return path.join(stateDir, "faults.jsonl");
}

export function recordFaultEvent(stateDir: string, e: FaultEvent): void {
  appendFileSync(timelineFile(stateDir), JSON.stringify(e) + "\n");
}

export function readFaultEvents(stateDir: string, since = 0): FaultEvent[] {
  let text = "";
  try {
    text = readFileSync(timelineFile(stateDir), "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter(Boolean).flatMap((l) => {
    try {
      const e = JSON.parse(l) as FaultEvent;
      return e.at >= since ? [e] : [];
    } catch {
      return [];
    }
  });
}

/** A fault in effect from `from` to `to` (epoch ms) on the nodes it touched, for the report's shading. */
export interface FaultWindow {
  label: string;
  kind: FaultSpec["kind"];
  nodes: string[];
  from: number;
  to: number;
  /** Still in effect when the report was drawn. */
  open: boolean;
}

/**
 * Replays the timeline: each fault opens a window on the nodes it touches, and the verb that undoes it
 * (start, rejoin, resume, resume-unit, heal) closes it. Failed faults open nothing.
 */
export function faultWindows(events: FaultEvent[], end: number): FaultWindow[] {
  const open: { key: string; w: FaultWindow }[] = [];
  const done: FaultWindow[] = [];
  const close = (pred: (k: string) => boolean, at: number) => {
    for (let i = open.length - 1; i >= 0; i--) {
      if (pred(open[i]!.key)) {
        done.push({ ...open[i]!.w, to: at, open: false });
        open.splice(i, 1);
      }
    }
  };
  const start = (key: string, e: FaultEvent) => {
    close((k) => k === key, e.at);
    open.push({ key, w: { label: e.label, kind: e.spec.kind, nodes: nodesOf(e.spec), from: e.at, to: end, open: true } });
  };
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    if (e.error) continue;
    const s = e.spec;
    switch (s.kind) {
      case "crash":
      case "stop":
        close((k) => k === `down:${s.node}` || k === `pause:${s.node}` || k.startsWith(`unit:${s.node}:`), e.at);
        start(`down:${s.node}`, e);
        break;
      case "start":
        close((k) => k === `down:${s.node}`, e.at);
        break;
      case "isolate":
        start(`isolate:${s.node}`, e);
        break;
      case "rejoin":
        close((k) => k === `isolate:${s.node}`, e.at);
        break;
      case "pause":
        start(`pause:${s.node}`, e);
        break;
      case "resume":
        close((k) => k === `pause:${s.node}`, e.at);
        break;
      case "pause-unit":
        start(`unit:${s.node}:${s.unit}`, e);
        break;
      case "resume-unit":
        close((k) => k === `unit:${s.node}:${s.unit}`, e.at);
        break;
      case "partition":
      case "drop":
      case "degrade":
        open.push({ key: `net:${e.at}:${open.length}`, w: { label: e.label, kind: s.kind, nodes: nodesOf(s), from: e.at, to: end, open: true } });
        break;
      case "heal":
        close((k) => k.startsWith("net:") || (s.scope !== "network"), e.at);
        break;
    }
  }
  return [...done, ...open.map((o) => o.w)].sort((a, b) => a.from - b.from);
}
