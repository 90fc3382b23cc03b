// Faults between nodes as a suite asks for them (`cluster.faults`), Jepsen's nemesis in suite terms:
// partitions, one-way drops, degraded links, heal, and pauses, aimed at named nodes or at a role (one,
// minority, majority, all, leader — the leader found by the function the suite gave useCluster). Roles
// are picked with a seeded generator (GALLEY_SEED, else the instance's name), so a run can be repeated.
import { describeFault, isHarmless, ROLES, roleSize, type FaultSpec, type LinkShape, type Role } from "../contracts/faults.ts";
import { UserError } from "../errors.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { eventually } from "../util/retry.ts";
import type { Prng } from "../util/prng.ts";
import type { FaultChannel, Node } from "./node.ts";

/** Nodes by name, the nodes themselves, or a role. */
export type Target = string | Node<any> | readonly (string | Node<any>)[] | Role;

export interface DegradeOptions {
  from: Target;
  /** Default: every node not in `from`. */
  to?: Target;
  /** Added one-way delay, ms. */
  delay?: number;
  /** ± around the delay, ms. */
  jitter?: number;
  /** Share of packets lost (0.05 = 5 %). */
  loss?: number;
  duplicate?: number;
  reorder?: number;
  /** Bandwidth, kbit/s. */
  rate?: number;
}

export class Faults<N extends Node<any> = Node> {
  constructor(
    private readonly nodes: N[],
    private readonly channel: FaultChannel,
    private readonly rng: Prng,
    private readonly findLeader?: () => Promise<N>,
    private readonly log?: InstanceLog,
  ) {}

  /** The nodes a target names; roles are picked with the seeded generator (leader: asked each time). */
  async pick(target: Target): Promise<N[]> {
    if (typeof target === "string" && (ROLES as readonly string[]).includes(target)) {
      const role = target as Role;
      if (role === "leader") {
        const find = this.findLeader;
        if (!find) throw new UserError("the leader role needs a way to find the leader: useCluster({ leader: async (cluster) => node })");
        // Right after a fault the cluster may still be electing: ask until it names one.
        return [await eventually(() => find(), { what: "the leader", timeoutMs: 30_000, intervalMs: 500 })];
      }
      if (role === "all") return [...this.nodes];
      return this.rng.shuffle(this.nodes).slice(0, roleSize(role, this.nodes.length));
    }
    const list = (Array.isArray(target) ? target : [target]) as (string | N)[];
    return list.map((t) => {
      const name = typeof t === "string" ? t : t.name;
      const n = this.nodes.find((x) => x.name === name);
      if (!n) throw new UserError(`no node ${name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`);
      return n;
    });
  }

  /**
   * No packets between the groups, either way. A role partitions those nodes from the rest:
   * `partition("minority")`; or name the groups: `partition([["infra0","infra1"],["infra2"]])`.
   * Returns the groups it made.
   */
  async partition(groups: Role | Target[]): Promise<N[][]> {
    let made: N[][];
    if (typeof groups === "string") {
      if (groups === "all") throw new UserError(`partition("all") leaves nobody on the other side`);
      const side = await this.pick(groups);
      made = [side, this.nodes.filter((n) => !side.some((x) => x.name === n.name))];
    } else {
      made = await Promise.all(groups.map((g) => this.pick(g)));
    }
    await this.send({ kind: "partition", groups: made.map((g) => g.map((n) => n.name)) });
    return made;
  }

  /** What `from` sends to `to` (default: everyone else) is lost; `to` still reaches `from`. */
  async drop(o: { from: Target; to?: Target }): Promise<{ from: N[]; to: N[] }> {
    const { from, to } = await this.ends(o.from, o.to);
    await this.send({ kind: "drop", from: from.map((n) => n.name), to: to.map((n) => n.name) });
    return { from, to };
  }

  /** What `from` sends to `to` is delayed, lost, duplicated, reordered or throttled (netem's knobs), one way. */
  async degrade(o: DegradeOptions): Promise<{ from: N[]; to: N[] }> {
    const { from, to } = await this.ends(o.from, o.to);
    const shape: LinkShape = {
      ...(o.delay !== undefined ? { delayMs: o.delay } : {}),
      ...(o.jitter !== undefined ? { jitterMs: o.jitter } : {}),
      ...(o.loss !== undefined ? { loss: o.loss } : {}),
      ...(o.duplicate !== undefined ? { duplicate: o.duplicate } : {}),
      ...(o.reorder !== undefined ? { reorder: o.reorder } : {}),
      ...(o.rate !== undefined ? { rateKbit: o.rate } : {}),
    };
    await this.send({ kind: "degrade", from: from.map((n) => n.name), to: to.map((n) => n.name), shape });
    return { from, to };
  }

  /** Undoes the network faults, or (default) every fault: also resumes, rejoins and boots nodes. */
  async heal(scope: "network" | "all" = "all"): Promise<void> {
    await this.send({ kind: "heal", scope });
  }

  /** Freezes whole nodes (every process; sockets stay open). Returns the nodes it paused. */
  async pause(target: Target): Promise<N[]> {
    const nodes = await this.pick(target);
    for (const n of nodes) await n.pause();
    return nodes;
  }

  async resume(target: Target): Promise<N[]> {
    const nodes = await this.pick(target);
    for (const n of nodes) await n.resume();
    return nodes;
  }

  /** Freezes one unit on the target nodes (SIGSTOP to its processes). */
  async pauseUnit(target: Target, unit: string): Promise<N[]> {
    const nodes = await this.pick(target);
    for (const n of nodes) await n.pauseUnit(unit);
    return nodes;
  }

  async resumeUnit(target: Target, unit: string): Promise<N[]> {
    const nodes = await this.pick(target);
    for (const n of nodes) await n.resumeUnit(unit);
    return nodes;
  }

  private async ends(fromT: Target, toT?: Target): Promise<{ from: N[]; to: N[] }> {
    const from = await this.pick(fromT);
    const to = toT === undefined ? this.nodes.filter((n) => !from.some((x) => x.name === n.name)) : await this.pick(toT);
    return { from, to };
  }

  /** Any fault as data (what a chaos schedule holds), harmless-aware like the verbs above. */
  apply(spec: FaultSpec): Promise<void> {
    return this.send(spec);
  }

  /** GALLEY_HARMLESS_FAULTS makes the fault a no-op (logged), as for the node verbs. */
  private async send(spec: FaultSpec): Promise<void> {
    if (isHarmless(spec.kind)) {
      this.log?.write("fault", `${describeFault(spec)}: skipped (GALLEY_HARMLESS_FAULTS)`);
      return;
    }
    this.log?.write("fault", describeFault(spec));
    await this.channel(spec);
  }
}
