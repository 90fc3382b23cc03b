// What a verification run produced: one result per check, counted per suite (a spec file's top-level
// describe). Shared by the mocha child that writes verify.json and the engine that reads it.
import type { ChaosStepResult, PollResult } from "../suite-api/chaos.ts";

export type { ChaosStepResult, PollResult };
export interface CheckResult {
  title: string;
  /** The top-level suite (a spec file's describe). */
  suite: string;
  test: string;
  file?: string;
  state: "passed" | "failed" | "pending";
  ms: number;
  error?: string;
  /** Why a pending check was skipped (skipIf's reason). */
  skipReason?: string;
  /** What the check reported (`report(name, value)`), e.g. the versions a node runs. */
  properties?: Record<string, string>;
  /** When it started and ended (epoch ms), for the report's time axis. */
  startedAt?: number;
  endedAt?: number;
}

export interface SuiteCounts {
  suite: string;
  passed: number;
  failed: number;
  skipped: number;
}

export interface VerifyReport {
  instance: string;
  suites: SuiteCounts[];
  checks: CheckResult[];
  /** Every poll of every invariant (suite-api invariant()). */
  polls?: PollResult[];
  /** The chaos schedule's steps as they ran (suite-api chaos()). */
  chaos?: ChaosStepResult[];
  /** Titles of the suites that declared they change the cluster (run last; the next verify reconverges first). */
  destructive?: string[];
}

export function countBySuite(checks: CheckResult[]): SuiteCounts[] {
  const bySuite = new Map<string, SuiteCounts>();
  for (const c of checks) {
    const s = bySuite.get(c.suite) ?? { suite: c.suite, passed: 0, failed: 0, skipped: 0 };
    if (c.state === "passed") s.passed++;
    else if (c.state === "failed") s.failed++;
    else s.skipped++;
    bySuite.set(c.suite, s);
  }
  return [...bySuite.values()];
}

/** "3 passed, 1 skipped" (only the non-zero counts; "no checks" when all are zero). */
export function formatCounts(c: Omit<SuiteCounts, "suite">): string {
  const parts = [c.passed && `${c.passed} passed`, c.failed && `${c.failed} failed`, c.skipped && `${c.skipped} skipped`].filter(Boolean);
  return parts.join(", ") || "no checks";
}
