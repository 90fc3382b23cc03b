// Drivers make and remove boxes. What they learn (container ids, addresses, keys) they report to the
// runner, which alone writes the instance state (as in Test Kitchen, where plugins fill `state` and the
// ActionRunner saves it). Fault injection is an optional capability.
import type { FaultKind, TransportSpec } from "../contracts/attach.ts";
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
  /** `galley doctor`: what this driver needs on the machine (its engine, limits, disk), each with its fix. */
  prerequisites?(): Promise<Check[]>;
  /** `galley setup` (as root): does an action one of its checks names (Check.action). */
  provide?(action: string, progress: Progress): Promise<void>;
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
}

export const faultKindsOf = (d: Driver): FaultKind[] => (d.faults ? (Object.keys(d.faults) as FaultKind[]) : []);
