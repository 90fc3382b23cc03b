// The lifecycle as Test Kitchen has it: an ordered list, not a state-machine library. Asking for an
// action runs every step from the last successful one up to it; asking again re-runs only that action.
import type { Action } from "../state/state-file.ts";

export const TRANSITIONS: readonly Action[] = ["destroy", "create", "converge", "verify"];

export function actionsBetween(last: Action | undefined, desired: Action): Action[] {
  if (desired === "destroy") return ["destroy"];
  const from = TRANSITIONS.indexOf(last ?? "destroy");
  const to = TRANSITIONS.indexOf(desired);
  return from >= to ? [desired] : TRANSITIONS.slice(from + 1, to + 1);
}
