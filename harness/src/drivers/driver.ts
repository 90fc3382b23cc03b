// Drivers make and remove boxes. Everything they learn (container ids, addresses) goes into the
// instance state, which is the whole contract with transports and verifiers (as in Test Kitchen).
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceState } from "../state/state-file.ts";
import type { Progress } from "../util/ui.ts";

export interface Driver {
  /** Boots every node of the instance and waits until systemd reports the boot finished. */
  create(plan: InstancePlan, state: InstanceState, progress: Progress): Promise<void>;
  /** Removes everything of the instance; safe to call twice and without state. */
  destroy(plan: InstancePlan, state: InstanceState): Promise<void>;
  /** Fault injection, NixOS-test-driver style. */
  faults: NodeFaults;
}

export interface NodeFaults {
  /** Power cut: SIGKILL, no shutdown. */
  crash(state: InstanceState, node: string): Promise<void>;
  /** Clean shutdown (systemd's SIGRTMIN+3). */
  stop(state: InstanceState, node: string): Promise<void>;
  /** Boot a stopped or crashed node again and wait for systemd (default: 60 s). */
  start(state: InstanceState, node: string, bootTimeoutMs?: number): Promise<void>;
  /** Cut the node from the instance network; the transport (docker exec) still reaches it. */
  isolate(state: InstanceState, node: string): Promise<void>;
  rejoin(state: InstanceState, node: string): Promise<void>;
}
