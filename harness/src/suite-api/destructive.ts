// Checks that change the cluster for good (a failover, a node wiped) declare it, so they cannot spoil
// the checks after them or the next run: `galley verify` runs every destructive suite after all the
// others, and the next verify (or converge) of the instance converges it again first. Under plain
// mocha nothing is reordered: run destructive specs last yourself, then `galley converge`.
//
//   describe("failover", function () {
//     destructive(this, "stops the primary");
//     …
//   });
import type { Suite } from "mocha";

export const DESTRUCTIVE = Symbol.for("galley.destructive");

/** Marks the suite being defined (`this` in describe's function) as changing the cluster. */
export function destructive(suite: Suite, reason = "changes the cluster"): void {
  if (!suite || typeof (suite as { fullTitle?: unknown }).fullTitle !== "function") {
    throw new Error("destructive(this, reason): call it inside describe(…, function () { … }) with mocha's suite as `this` (not in an arrow function)");
  }
  (suite as unknown as Record<symbol, string>)[DESTRUCTIVE] = reason;
}

/** Whether a suite, or a suite inside it, is destructive. */
export function isDestructive(suite: Suite): boolean {
  return Boolean((suite as unknown as Record<symbol, string | undefined>)[DESTRUCTIVE]) || suite.suites.some(isDestructive);
}

/** Moves the destructive top-level suites after all the others (keeping each group's order); returns their titles. */
export function runDestructiveLast(root: Suite): string[] {
  const last = root.suites.filter(isDestructive);
  root.suites.splice(0, root.suites.length, ...root.suites.filter((s) => !isDestructive(s)), ...last);
  return last.map((s) => s.title);
}
