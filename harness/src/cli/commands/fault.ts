// galley fault: one fault on a created instance, through the engine (the driver acts, the state and the
// timeline record it; `galley list` shows what is in effect). The words are parsed into the same
// FaultSpec a suite sends over IPC (or as --spec JSON, which is how a suite under plain mocha asks).
//
//   galley fault INSTANCE NODE crash|stop|start|isolate|rejoin|pause|resume
//   galley fault INSTANCE pause-unit|resume-unit NODE UNIT
//   galley fault INSTANCE partition infra0,infra1 infra2
//   galley fault INSTANCE drop --from infra2 [--to infra0,infra1]          (default --to: every other node)
//   galley fault INSTANCE degrade --from all --to all --delay 300ms --jitter 50ms [--loss 1%] …
//   galley fault INSTANCE heal [--network]
import type { Command } from "commander";
import { FAULT_KINDS, NODE_VERBS, type FaultSpec, type LinkShape, type NodeVerb } from "../../contracts/faults.ts";
import { UserError } from "../../errors.ts";
import type { CliContext } from "../context.ts";

export interface FaultOptions {
  spec?: string;
  from?: string;
  to?: string;
  delay?: string;
  jitter?: string;
  loss?: string;
  duplicate?: string;
  reorder?: string;
  rate?: string;
  network?: boolean;
}

/** Words and options → a fault; names are checked against `nodes` ("all" is every node). */
export function parseFault(words: string[], o: FaultOptions, nodes: string[]): FaultSpec {
  if (o.spec) {
    try {
      return JSON.parse(o.spec) as FaultSpec;
    } catch (err) {
      throw new UserError(`--spec is not valid JSON: ${(err as Error).message}`);
    }
  }
  const usage = `faults: NODE ${NODE_VERBS.join("|")}, pause-unit|resume-unit NODE UNIT, partition GROUP GROUP…, drop|degrade --from NODES [--to NODES], heal [--network]`;
  const list = (s: string | undefined, what: string): string[] => {
    if (!s) throw new UserError(`${what} is missing (${usage})`);
    const names = s.split(",").map((x) => x.trim()).filter(Boolean).flatMap((x) => (x === "all" ? nodes : [x]));
    for (const n of names) if (!nodes.includes(n)) throw new UserError(`no node ${n} in ${what} (nodes: ${nodes.join(", ")})`);
    return [...new Set(names)];
  };
  const [first, ...rest] = words;
  if (!first) throw new UserError(`which fault? (${usage})`);
  const isVerb = (w: string | undefined): w is NodeVerb => (NODE_VERBS as readonly string[]).includes(w ?? "");
  if (isVerb(rest[0]) && rest.length === 1) return { kind: rest[0], node: list(first, "the node")[0]! };
  if (nodes.includes(first)) throw new UserError(`unknown fault ${rest.join(" ") || "(none)"} for node ${first} (node verbs: ${NODE_VERBS.join(", ")})`);
  if (isVerb(first)) {
    if (rest.length !== 1) throw new UserError(`${first} takes one node (galley fault INSTANCE ${first} NODE)`);
    return { kind: first, node: list(rest[0], "the node")[0]! };
  }
  switch (first) {
    case "pause-unit":
    case "resume-unit":
      if (rest.length !== 2) throw new UserError(`${first} takes a node and a unit (galley fault INSTANCE ${first} NODE UNIT)`);
      return { kind: first, node: list(rest[0], "the node")[0]!, unit: rest[1]! };
    case "partition":
      if (rest.length < 2) throw new UserError("partition takes two or more groups: galley fault INSTANCE partition infra0,infra1 infra2");
      return { kind: "partition", groups: rest.map((g, i) => list(g, `group ${i + 1}`)) };
    case "drop":
    case "degrade": {
      const from = list(o.from, "--from");
      const to = o.to ? list(o.to, "--to") : nodes.filter((n) => !from.includes(n));
      if (first === "drop") return { kind: "drop", from, to };
      const shape: LinkShape = {
        ...(o.delay !== undefined ? { delayMs: ms(o.delay, "--delay") } : {}),
        ...(o.jitter !== undefined ? { jitterMs: ms(o.jitter, "--jitter") } : {}),
        ...(o.loss !== undefined ? { loss: share(o.loss, "--loss") } : {}),
        ...(o.duplicate !== undefined ? { duplicate: share(o.duplicate, "--duplicate") } : {}),
        ...(o.reorder !== undefined ? { reorder: share(o.reorder, "--reorder") } : {}),
        ...(o.rate !== undefined ? { rateKbit: kbit(o.rate) } : {}),
      };
      if (!Object.keys(shape).length) throw new UserError("degrade needs at least one of --delay, --jitter, --loss, --duplicate, --reorder, --rate");
      return { kind: "degrade", from, to, shape };
    }
    case "heal":
      if (rest.length) throw new UserError(`heal takes no arguments (use --network to heal only the network)`);
      return { kind: "heal", scope: o.network ? "network" : "all" };
    default:
      throw new UserError(`unknown fault ${first} (${usage})`);
  }
}

/** "300ms", "0.3s", "300" (ms). */
export function ms(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v.trim());
  if (!m) throw new UserError(`${what} takes a duration like 300ms or 0.3s, not ${v}`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

/** "5%" or "0.05". */
export function share(v: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(%)?$/.exec(v.trim());
  const x = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(x >= 0 && x <= 1)) throw new UserError(`${what} takes a share like 5% or 0.05, not ${v}`);
  return x;
}

/** "1mbit", "500kbit", "800" (kbit/s). */
export function kbit(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(kbit|mbit|gbit)?$/i.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new UserError(`--rate takes a bandwidth like 1mbit or 500kbit, not ${v}`);
  return Number(m[1]) * ({ kbit: 1, mbit: 1000, gbit: 1_000_000 }[(m[2] ?? "kbit").toLowerCase()] ?? 1);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("fault <instance> [words...]")
    .description(`inject or heal a fault: ${FAULT_KINDS.join(", ")} (galley list shows the faults in effect)`)
    .option("--spec <json>", "the fault as JSON (what suites send)")
    .option("--from <nodes>", "drop/degrade: sending nodes, comma-separated, or all")
    .option("--to <nodes>", "drop/degrade: receiving nodes (default: every other node)")
    .option("--delay <ms>", "degrade: added one-way delay (300ms)")
    .option("--jitter <ms>", "degrade: ± around the delay (50ms)")
    .option("--loss <share>", "degrade: packets lost (5%)")
    .option("--duplicate <share>", "degrade: packets sent twice (1%)")
    .option("--reorder <share>", "degrade: packets sent ahead of the delayed ones (10%)")
    .option("--rate <bandwidth>", "degrade: bandwidth (1mbit, 500kbit)")
    .option("--network", "heal: only the network faults")
    .action(async (instance: string, words: string[], o: FaultOptions) => {
      const inst = await ctx.created(instance).open();
      try {
        await inst.fault(parseFault(words, o, inst.plan.nodes.map((n) => n.name)));
      } finally {
        await inst.close();
      }
    });
}
