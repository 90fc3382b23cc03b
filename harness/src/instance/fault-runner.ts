// Runs faults for an instance (a check's, `galley fault`'s, a chaos step's): checks them against the
// nodes, has the driver act — node verbs, pauses, link rules compiled for every node, unit pauses through
// the node's own systemd — records what is in effect in the state and when in the timeline, and heals.
// The Instance owns it and stays the only writer of the state: the runner writes through it.
import { describeFault, nodesOf, type FaultSpec } from "../contracts/faults.ts";
import type { NodeFaults } from "../drivers/driver.ts";
import { ActionFailed, CommandFailed, commandFailure, messageOf, UserError } from "../errors.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { ActiveFault, InstanceState } from "../state/state-file.ts";
import { transportFor } from "../transports/index.ts";
import { shellQuote, type BoxAddress } from "../transports/transport.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import type { Components } from "./components.ts";
import { checkFault, compileLinks, nodeFaultsAfter, recordFaultEvent } from "./faults.ts";

/** What the runner needs of its instance (read live: the instance re-reads its state when it opens). */
export interface FaultHost {
  readonly plan: InstancePlan;
  readonly state: InstanceState;
  readonly components: Components;
  readonly log: InstanceLog;
  address(name: string): BoxAddress;
  save(): void;
}

export class FaultRunner {
  constructor(private readonly host: FaultHost) {}

  /**
   * A fault asked for by a check (through the verifier), by `galley fault` or by a chaos schedule: the
   * driver acts, the state records what is in effect, and the timeline (faults.jsonl) when.
   */
  async fault(spec: FaultSpec): Promise<void> {
    const driver = this.host.components.driver;
    const faults = driver.faults;
    const label = describeFault(spec);
    const where = "node" in spec ? `${spec.kind} on ${spec.node} of ${this.host.plan.name}` : `${label} on ${this.host.plan.name}`;
    if (!faults) throw new UserError(`the ${driver.name} driver cannot inject faults (${where})`);
    for (const n of nodesOf(spec)) this.host.address(n); // names the valid nodes when one is unknown
    checkFault(spec, this.host.plan.nodes.map((n) => n.name).filter((n) => this.host.state.nodes[n]), this.host.plan.name);
    const at = Date.now();
    try {
      await this.performFault(spec, faults);
    } catch (err) {
      recordFaultEvent(this.host.plan.stateDir, { at, spec, label, error: messageOf(err) });
      this.host.log.write("fault", `${label}: failed: ${messageOf(err)}`);
      this.host.save();
      throw err;
    }
    recordFaultEvent(this.host.plan.stateDir, { at, spec, label });
    const inEffect = [
      ...Object.entries(this.host.state.faults ?? {}).map(([n, f]) => `${n} ${f.join("+")}`),
      ...(this.host.state.links ?? []).map((l) => describeFault(l.spec)),
    ];
    this.host.log.write("fault", `${label}: in effect now: ${inEffect.join("; ") || "none"}`);
    this.host.save();
  }

  private async performFault(spec: FaultSpec, faults: NodeFaults): Promise<void> {
    const driver = this.host.components.driver;
    switch (spec.kind) {
      case "partition":
      case "drop":
      case "degrade": {
        if (!faults.network) throw new UserError(`the ${driver.name} driver has no network faults (asked: ${describeFault(spec)} on ${this.host.plan.name})`);
        const before = this.host.state.links;
        this.host.state.links = [...(before ?? []), { spec, since: new Date().toISOString() }];
        try {
          await this.applyLinks();
        } catch (err) {
          // Not in effect after all: the state says what is, and the nodes go back to it.
          this.host.state.links = before;
          if (!before?.length) delete this.host.state.links;
          await this.applyLinks().catch(() => {});
          throw err;
        }
        return;
      }
      case "heal":
        await this.heal(spec.scope ?? "all");
        return;
      case "pause-unit":
      case "resume-unit": {
        // Through the control transport, on the node's own systemd: any driver whose boxes run systemd can.
        const conn = await transportFor({ name: driver.controlTransport, commandTimeoutMs: 30_000 }).connect(this.host.address(spec.node));
        try {
          const signal = spec.kind === "pause-unit" ? "SIGSTOP" : "SIGCONT";
          const unit = shellQuote(spec.unit);
          const r = await conn.exec(spec.kind === "pause-unit"
            ? `state=$(systemctl is-active ${unit} || true); [ "$state" = active ] || { echo "${spec.unit} is $state, not active: nothing to pause" >&2; exit 3; }\nsystemctl kill --signal=${signal} --kill-who=all ${unit}`
            : `systemctl kill --signal=${signal} --kill-who=all ${unit}`);
          if (r.exitCode !== 0) throw new CommandFailed(commandFailure(spec.node, `${spec.kind} ${spec.unit}`, r));
        } finally {
          await conn.close();
        }
        break;
      }
      case "pause":
      case "resume": {
        const verb = faults[spec.kind];
        if (!verb) throw new UserError(`the ${driver.name} driver cannot ${spec.kind} a node (${spec.node} of ${this.host.plan.name})`);
        await verb(this.host.state, spec.node);
        break;
      }
      case "start":
        await faults.start(this.host.state, spec.node, this.host.plan.driver.bootTimeoutMs);
        break;
      default:
        await faults[spec.kind](this.host.state, spec.node);
    }
    this.setNodeFaults(spec.node, nodeFaultsAfter(spec, this.host.state.faults?.[spec.node] ?? []));
    // A node that booted again has a new network namespace: its part of the link faults goes back in.
    if (spec.kind === "start" && this.host.state.links?.length) await this.applyLinks([spec.node]);
  }

  private setNodeFaults(node: string, now: ActiveFault[]): void {
    const all = { ...this.host.state.faults };
    if (now.length) all[node] = now;
    else delete all[node];
    if (Object.keys(all).length) this.host.state.faults = all;
    else delete this.host.state.faults;
  }

  /** Puts every node's link rules in place (the driver replaces what was there), in parallel. */
  private async applyLinks(only?: string[]): Promise<void> {
    const network = this.host.components.driver.faults?.network;
    if (!network) return;
    const ipOf = Object.fromEntries(Object.entries(this.host.state.nodes).map(([n, b]) => [n, b.ip]));
    const rules = compileLinks((this.host.state.links ?? []).map((l) => l.spec), ipOf);
    const down = (n: string) => (this.host.state.faults?.[n] ?? []).some((f) => f === "crashed" || f === "stopped");
    const targets = (only ?? Object.keys(rules)).filter((n) => !down(n));
    const results = await Promise.allSettled(targets.map(async (n) => {
      const said = await network.apply(this.host.state, n, rules[n]!);
      if (said) this.host.log.write(`${n} fault`, `link shaper until now:\n${said}`);
    }));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${targets[i]}: ${messageOf(r.reason)}`] : []));
    if (failed.length) throw new ActionFailed(`link faults could not be applied on ${failed.length} node(s):\n${failed.join("\n")}`);
  }

  /**
   * Undoes faults: the network ones, or all (also resumes frozen units and nodes, rejoins isolated
   * nodes and boots crashed or stopped ones). Every node is tried; one error lists what failed.
   */
  private async heal(scope: "network" | "all"): Promise<void> {
    const errors: string[] = [];
    const hadLinks = !!this.host.state.links?.length;
    delete this.host.state.links;
    if (hadLinks || scope === "all") await this.applyLinks().catch((e) => errors.push(messageOf(e)));
    if (scope === "all") {
      for (const [node, list] of Object.entries(this.host.state.faults ?? {})) {
        for (const f of list) {
          const undo: FaultSpec | undefined =
            f === "paused" ? { kind: "resume", node }
            : f.startsWith("paused:") ? { kind: "resume-unit", node, unit: f.slice("paused:".length) }
            : f === "isolated" ? { kind: "rejoin", node }
            : f === "crashed" || f === "stopped" ? { kind: "start", node }
            : undefined;
          if (!undo) continue;
          try {
            await this.fault(undo);
          } catch (e) {
            errors.push(`${describeFault(undo)}: ${messageOf(e)}`);
          }
        }
      }
    }
    if (errors.length) throw new ActionFailed(`heal of ${this.host.plan.name} left faults in effect:\n${errors.join("\n")}`);
  }

  /**
   * On an interrupt: undo what is quick to undo (network faults, frozen nodes and units, isolation) so
   * nothing stays cut off or frozen; a crashed or stopped node stays down, recorded in the state.
   */
  async healOnInterrupt(timeoutMs = 15_000): Promise<void> {
    if (!this.host.state.links?.length && !Object.values(this.host.state.faults ?? {}).flat().some((f) => f !== "crashed" && f !== "stopped")) return;
    const quick = async () => {
      await this.heal("network").catch(() => {});
      for (const [node, list] of Object.entries(this.host.state.faults ?? {})) {
        for (const f of list) {
          const undo: FaultSpec | undefined = f === "paused" ? { kind: "resume", node } : f.startsWith("paused:") ? { kind: "resume-unit", node, unit: f.slice(7) } : f === "isolated" ? { kind: "rejoin", node } : undefined;
          if (undo) await this.fault(undo).catch(() => {});
        }
      }
    };
    await Promise.race([quick(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.host.save();
  }
}
