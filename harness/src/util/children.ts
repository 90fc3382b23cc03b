// Child processes Galley started (the mocha verifier, debootstrap, build scripts): an interrupt must
// stop them too, or an orphaned verifier keeps crashing nodes while the user runs destroy.
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export function killChildren(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const c of children) c.kill(signal);
}
