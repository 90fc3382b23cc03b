// isolate_destructive: snapshot. Each destructive suite starts from the cluster as converge left it: a
// first hook, ahead of the suite's own (which attach to the cluster), asks the engine over the verifier's
// IPC channel to restore the snapshot taken after converge, and waits until the engine says the boxes
// are back (attach.json then names the new containers). Without an engine there is nothing to restore
// from: the hook fails, naming why.
import type { Suite } from "mocha";
import type { RestoreReply, RestoreRequest } from "../contracts/attach.ts";
import { isDestructive } from "./destructive.ts";

type MochaHooks = { _beforeAll: unknown[] };

/** Gives every destructive top-level suite a first hook that restores the snapshot; returns their titles. */
export function isolateDestructive(root: Suite, restore: (suite: string) => Promise<void> = restoreViaEngine): string[] {
  const isolated = root.suites.filter(isDestructive);
  for (const suite of isolated) {
    suite.beforeAll(`restore the cluster from the snapshot taken after converge (before "${suite.title}")`, async function () {
      this.timeout(0); // the engine bounds the restore (boot and service timeouts)
      await restore(suite.title);
    });
    // Mocha appends hooks: move this one ahead of the suite's own, so they attach to the restored boxes.
    const hooks = (suite as unknown as MochaHooks)._beforeAll;
    hooks.unshift(hooks.pop());
  }
  return isolated.map((s) => s.title);
}

let nextId = 0;

function restoreViaEngine(suite: string): Promise<void> {
  if (!process.send) return Promise.reject(new Error(`cannot restore the snapshot before "${suite}": no engine to ask (run it with galley verify)`));
  const id = ++nextId;
  return new Promise<void>((resolve, reject) => {
    const onReply = (m: RestoreReply) => {
      const r = m?.galleyRestoreReply;
      if (!r || r.id !== id) return;
      process.off("message", onReply);
      if (r.error) reject(new Error(`restoring the snapshot before "${suite}" failed: ${r.error}`));
      else resolve();
    };
    process.on("message", onReply);
    process.send!({ galleyRestore: { id, suite } } satisfies RestoreRequest);
  });
}
