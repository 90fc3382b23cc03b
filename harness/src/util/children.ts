// Child processes Galley started (the mocha verifier, debootstrap, build scripts): an interrupt must
// stop them too, or an orphaned verifier keeps crashing nodes while the user runs destroy. Their own
// children too: a build script's `go build`, debootstrap's dpkg would otherwise run on, orphaned.
import type { ChildProcess } from "node:child_process";
import { parentOf, processIds } from "./proc.ts";

const children = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/**
 * Sends `signal` to each child and SIGTERM to everything below it (a script's background jobs ignore
 * SIGINT), parents first, so none of them starts another child after its own children were signalled.
 */
export function killChildren(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const c of children) {
    if (c.pid === undefined) continue;
    const below = descendantsOf(c.pid);
    for (const [pid, sig] of [[c.pid, signal], ...below.map((p) => [p, "SIGTERM"] as const)] as const) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  }
}

/** Every process below `pid`, breadth first, from /proc (empty where there is no /proc). */
function descendantsOf(pid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const p of processIds()) {
    const ppid = parentOf(p);
    if (ppid !== undefined) childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), p]);
  }
  const out: number[] = [];
  for (let queue = [pid]; queue.length; ) {
    const next = childrenOf.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}
