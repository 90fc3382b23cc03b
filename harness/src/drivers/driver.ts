// Drivers make and remove boxes. What they learn (container ids, addresses, keys) they report to the
// runner, which alone writes the instance state (as in Test Kitchen, where plugins fill `state` and the
// ActionRunner saves it). Fault injection is an optional capability.
import type { TransportSpec } from "../contracts/attach.ts";
import { NETWORK_KINDS, type FaultKind, type LinkShape } from "../contracts/faults.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceState, NodeState } from "../state/state-file.ts";
import type { Check } from "../util/check.ts";
import type { Progress } from "../util/ui.ts";

/** What a driver learned about the boxes it made; the runner merges it into the state. */
export interface DriverFacts {
  /** Unique per create: labels every resource of this incarnation. */
  session?: string;
  network?: { id: string; name: string };
  volumes?: string[];
  nodes?: Record<string, NodeState>;
  services?: Record<string, NodeState>;
}

export interface CreateContext {
  progress: Progress;
  /** Reports facts as soon as they are known, so a create that fails halfway still records its boxes. */
  record(facts: DriverFacts): void;
  /** The instance's SSH key pair (private key path; the public key beside it as .pub). */
  sshKey: string;
}

export interface BoxStatus {
  running: boolean;
  /** One line for messages: "container galley-… exited, exit code 137". */
  description: string;
}

export interface PruneReport {
  removed: string[];
  /** What could not be removed, each with why. */
  failed: string[];
}

export interface Driver {
  readonly name: string;
  /** Boots every node and service of the instance and waits until systemd reports the boot finished. */
  create(plan: InstancePlan, ctx: CreateContext): Promise<void>;
  /**
   * Removes everything of the instance, whatever state its boxes are in; safe to call twice and without
   * state. Removes what it can and throws one error listing what it could not.
   */
  destroy(plan: InstancePlan, state: InstanceState): Promise<void>;
  /** Everything Galley made on this host (`project`: only this project's), with or without state files. */
  prune(project?: string): Promise<PruneReport>;
  /** Whether a box (node or service) runs, for messages such as "service proxy is down". */
  status(state: InstanceState, box: string): Promise<BoxStatus | undefined>;
  /** The transport that reaches a box even when it is cut off from its network (services use it too). */
  readonly controlTransport: TransportSpec["name"];
  /** Fault verbs, NixOS-test-driver style; absent on a driver that cannot inject faults. */
  readonly faults?: NodeFaults;
  /** Whole-cluster snapshots (every box with its volumes); absent on a driver that cannot take them. */
  readonly snapshots?: Snapshots;
  /**
   * Writes what a person needs to see why a node failed into `dir` (journal, failed units, network,
   * the box's description), also for a node that is down: whatever can still be read. Returns the
   * files written and, for what could not be read, why. Optional (kind's CollectLogs).
   */
  collect?(state: InstanceState, node: string, dir: string): Promise<CollectReport>;
  /** `galley doctor`: what this driver needs on the machine (its engine, limits, disk), each with its fix. */
  prerequisites?(): Promise<Check[]>;
  /** `galley setup` (as root): does an action one of its checks names (Check.action). */
  provide?(action: string, progress: Progress): Promise<void>;
}

/**
 * Snapshots of a running instance: every box (node and service) with its volumes, taken at one moment
 * (the boxes are frozen together), and restored by remaking every box from it. Destroy and prune remove
 * them with the instance. A snapshot belongs to the create it was taken in (its session).
 */
export interface Snapshots {
  /** Takes snapshot `name` of every box in `state` (replacing one of that name); the boxes run on. */
  take(plan: InstancePlan, state: InstanceState, name: string, progress: Progress): Promise<void>;
  /**
   * Replaces every box with its copy in snapshot `name`: same names, host names, addresses and networks,
   * fresh copies of its volumes; waits for systemd and for the services that ran at the snapshot. The
   * new boxes are reported through `record` as create reports them.
   */
  restore(plan: InstancePlan, state: InstanceState, name: string, ctx: { progress: Progress; record(facts: DriverFacts): void }): Promise<void>;
}

export interface CollectReport {
  files: string[];
  /** "journal: the node is down (container exited, exit code 137)". */
  missing: string[];
}

export interface NodeFaults {
  /** Power cut: SIGKILL, no shutdown. */
  crash(state: InstanceState, node: string): Promise<void>;
  /** Clean shutdown. */
  stop(state: InstanceState, node: string): Promise<void>;
  /** Boot a stopped or crashed node again and wait for systemd; a running node is left as it is. */
  start(state: InstanceState, node: string, bootTimeoutMs: number): Promise<void>;
  /** Cut the node from the instance network; the control transport still reaches it. */
  isolate(state: InstanceState, node: string): Promise<void>;
  rejoin(state: InstanceState, node: string): Promise<void>;
  /** Freeze every process of the node (sockets stay open, the kernel still answers); optional. */
  pause?(state: InstanceState, node: string): Promise<void>;
  resume?(state: InstanceState, node: string): Promise<void>;
  /** Faults between nodes (drops and degraded links); optional. */
  network?: NetworkFaults;
}

/** The link faults one node takes part in, by peer address; the engine compiles them from the faults in effect. */
export interface LinkRules {
  /** Peers whose packets this node must not receive. */
  dropFrom: string[];
  /** Peers this node's packets must not reach. */
  dropTo: string[];
  /** How this node's packets to each peer are degraded. */
  shape: { to: string; shape: LinkShape }[];
}

export const noLinkRules = (): LinkRules => ({ dropFrom: [], dropTo: [], shape: [] });

export interface NetworkFaults {
  /**
   * Makes the node's link faults exactly `rules`, replacing whatever was there; empty rules leave no
   * trace in the node's network. Applied from outside the node: its own tools may be missing, and the
   * control transport keeps working. May return what the replaced faults reported (a shaper's counts).
   */
  apply(state: InstanceState, node: string, rules: LinkRules): Promise<string | void>;
  /** What is in effect in the node's network now (rules, queues, shaper), for evidence and tests. */
  describe(state: InstanceState, node: string): Promise<string>;
}

/** The fault kinds a driver offers (heal and the unit verbs need nothing beyond the basic verbs). */
export function faultKindsOf(d: Driver): FaultKind[] {
  const f = d.faults;
  if (!f) return [];
  const kinds: FaultKind[] = ["crash", "stop", "start", "isolate", "rejoin", "pause-unit", "resume-unit", "heal"];
  if (f.pause && f.resume) kinds.push("pause", "resume");
  if (f.network) kinds.push(...NETWORK_KINDS);
  return kinds;
}
