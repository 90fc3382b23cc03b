// Verifiers run an instance's checks and say what each found. The engine gives them the instance's
// attach file (how to reach every node) and a way to inject faults that goes through the runner, so the
// driver stays the only code that touches boxes and the runner the only one that writes state.
import type { FaultSpec } from "../contracts/faults.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import type { VerifyReport } from "./results.ts";

export interface VerifyContext {
  plan: InstancePlan;
  /** .galley/<instance>/attach.json */
  attachFile: string;
  log: InstanceLog;
  /** Injects a fault on behalf of a check (a node verb, a partition, a degraded link, a heal…). */
  fault(spec: FaultSpec): Promise<void>;
  /**
   * Restores the snapshot taken after converge (`isolate_destructive: snapshot`): the verifier calls it
   * before each destructive suite; absent when the instance does not isolate them.
   */
  restore?(): Promise<void>;
  /** Other checks than the plan's suites (`galley chaos` runs its chaos checks). */
  suites?: string[];
  /** Extra environment for the checks (GALLEY_CHAOS, GALLEY_SEED). */
  env?: Record<string, string>;
  /** Where results go: <outputs>.json and the JUnit file (default verify.json and junit.xml). */
  outputs?: { results: string; junit: string };
}

export interface Verifier {
  readonly name: string;
  verify(ctx: VerifyContext): Promise<VerifyReport>;
  /**
   * A verify of this plan is coming (`galley test` says so before its idempotence converge): start
   * what can start early, so the checks begin at once when verify comes. Optional; dispose() undoes it.
   */
  warmUp?(plan: InstancePlan): void;
  /** Lets go of anything warmUp started and verify did not use. */
  dispose?(): void;
}
