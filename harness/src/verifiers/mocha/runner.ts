// The mocha verifier: finds the suite's spec files and runs them in a child process against the
// instance (a child, not in-process: ESM spec modules cannot be unloaded, and instances verify
// concurrently). The child reaches the nodes itself (attach.json); faults it asks for come back over
// its IPC channel and go through the runner. Output goes to the instance log; the caller gets one
// result per check.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { FaultReply, FaultRequest, RestoreReply, RestoreRequest } from "../../contracts/attach.ts";
import { ActionFailed, messageOf } from "../../errors.ts";
import { specFiles } from "../../util/spec-files.ts";
import { track } from "../../util/children.ts";
import { lineSplitter } from "../../util/lines.ts";
import { ownModule, runningFromSources } from "../../util/own-modules.ts";
import type { VerifyReport } from "../results.ts";
import type { InstancePlan } from "../../plan/plan.ts";
import type { Verifier, VerifyContext } from "../verifier.ts";

/**
 * The child and how to start it, all from Galley's own installation (never from the project's folder,
 * which is the child's working directory): compiled, it runs as it is; from Galley's TypeScript sources
 * it needs Galley's tsx first.
 */
function childArgs(): string[] {
  const child = fileURLToPath(ownModule("./child.ts", import.meta.url));
  return runningFromSources(import.meta.url) ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href, child] : [child];
}

/** A verify child started before its verify: its output waits for a reader. */
interface WarmChild {
  instance: string;
  proc: ChildProcess;
  early: string[];
  exited: boolean;
}

/** The child, from the project's folder, with its IPC channel (faults, the go). */
function startChild(root: string, env: Record<string, string>): ChildProcess {
  return track(spawn(process.execPath, childArgs(), { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe", "ipc"] }));
}

export class MochaVerifier implements Verifier {
  readonly name = "mocha";
  private warm?: WarmChild;

  /**
   * Starts the child now, with Galley's modules, mocha, chai and the suite API loaded while the engine
   * converges once more; verify then only sends the go (a child costs ~0.3 s to start from sources).
   */
  warmUp(plan: InstancePlan): void {
    this.dispose();
    const proc = startChild(plan.root, { GALLEY_WARM: "1" });
    const warm: WarmChild = { instance: plan.name, proc, early: [], exited: false };
    const keep = (b: Buffer) => warm.early.push(b.toString());
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    proc.on("error", () => (warm.exited = true));
    proc.on("exit", () => (warm.exited = true));
    // Waiting for the go must not keep the engine alive, nor the engine wait for it.
    proc.unref();
    (proc.channel as { unref?(): void } | undefined)?.unref?.();
    this.warm = warm;
  }

  dispose(): void {
    const w = this.warm;
    this.warm = undefined;
    if (w && !w.exited) w.proc.kill();
  }

  async verify({ plan, attachFile, log, fault, restore, suites, env, outputs }: VerifyContext): Promise<VerifyReport> {
    const files = specFiles(suites ?? plan.verifier.suites);
    const resultsFile = outputs?.results ?? path.join(plan.stateDir, "verify.json");
    rmSync(resultsFile, { force: true });
    const settings: Record<string, string> = {
      GALLEY_INSTANCE: plan.name,
      GALLEY_ATTACH: attachFile,
      GALLEY_SPECS: JSON.stringify(files),
      GALLEY_RESULTS: resultsFile,
      GALLEY_JUNIT: outputs?.junit ?? path.join(plan.stateDir, "junit.xml"),
      GALLEY_TIMEOUT_MS: String(plan.verifier.timeoutMs),
      GALLEY_REPORTER: plan.verifier.reporter,
      ...(restore ? { GALLEY_ISOLATE_DESTRUCTIVE: "snapshot" } : {}),
      ...env,
    };
    const warm = this.warm?.instance === plan.name && !this.warm.exited && this.warm.proc.connected ? this.warm : undefined;
    if (warm) this.warm = undefined;
    else this.dispose(); // another instance's, or gone: a fresh child instead
    const code = await new Promise<number>((resolve, reject) => {
      const proc = warm?.proc ?? startChild(plan.root, settings);
      // Faults a check asks for: performed by the engine, answered with the outcome.
      proc.on("message", (m: FaultRequest) => {
        if (!m?.galleyFault) return;
        const { id, ...spec } = m.galleyFault;
        fault(spec).then(
          () => proc.connected && proc.send({ galleyFaultReply: { id } } satisfies FaultReply),
          (err) => proc.connected && proc.send({ galleyFaultReply: { id, error: messageOf(err) } } satisfies FaultReply),
        );
      });
      // A destructive suite about to start asks for the snapshot taken after converge (isolate_destructive).
      proc.on("message", (m: RestoreRequest) => {
        if (!m?.galleyRestore) return;
        const { id } = m.galleyRestore;
        const done = restore ? restore() : Promise.reject(new Error("this verify does not isolate destructive suites"));
        done.then(
          () => proc.connected && proc.send({ galleyRestoreReply: { id } } satisfies RestoreReply),
          (err) => proc.connected && proc.send({ galleyRestoreReply: { id, error: messageOf(err) } } satisfies RestoreReply),
        );
      });
      const out = lineSplitter((l) => log.write("verify", l));
      if (warm) {
        proc.stdout!.removeAllListeners("data");
        proc.stderr!.removeAllListeners("data");
        for (const chunk of warm.early) out.push(chunk);
        proc.ref();
        (proc.channel as { ref?(): void } | undefined)?.ref?.();
        proc.send({ galleyGo: settings });
      }
      proc.stdout!.on("data", (b: Buffer) => out.push(b.toString()));
      proc.stderr!.on("data", (b: Buffer) => out.push(b.toString()));
      proc.on("error", reject);
      proc.on("close", (c) => {
        out.flush();
        resolve(c ?? 1);
      });
    });
    if (!existsSync(resultsFile)) throw new ActionFailed(`the verifier did not run (exit ${code}); see ${log.file}`);
    const report = JSON.parse(readFileSync(resultsFile, "utf8")) as VerifyReport;
    if (code !== 0 && !report.checks.some((r) => r.state === "failed")) {
      throw new ActionFailed(`the verifier exited with ${code} before running every check; see ${log.file}`);
    }
    return report;
  }
}
