// Galley inside a project's own tests, in the testcontainers style: a mocha (or vitest, jest) suite
// brings a cluster up in `before` and down in `after`:
//
//   const cluster = await new GalleyInstance("hello-debian-12", { config: "galley.yml" }).start();
//   await cluster.each((node) => node.waitForUnit("hello.service"));
//   await cluster.stop();
//
// start() destroys what an earlier run left, creates and converges the instance, and returns the same
// Cluster (nodes, Node verbs, faults) the verification suites get. Whatever was started and not stopped
// is destroyed when the process ends (exit, SIGINT, SIGTERM), unless `keep` was asked.
import { rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import { attachPath } from "../contracts/attach.ts";
import { UserError } from "../errors.ts";
import { afterRun } from "../evidence/after-run.ts";
import { componentsFor } from "../instance/components.ts";
import { Instance } from "../instance/instance.ts";
import { planInstances } from "../plan/plan.ts";
import { Cluster, connectBoxes, readAttachFile } from "../suite-api/cluster.ts";
import type { FaultChannel, Node } from "../suite-api/node.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import type { AttachFile } from "../contracts/attach.ts";

const bin = fileURLToPath(new URL("../../bin/galley.js", import.meta.url));

export interface GalleyInstanceOptions {
  /** The configuration file (default: $GALLEY_CONFIG, else ./galley.yml), relative to the current folder. */
  config?: string;
  /** Leave the instance running after stop() and at exit, for a look (`galley login`); `galley destroy` removes it. */
  keep?: boolean;
  /** Converge a second time and fail if it changed anything, as `galley test` does (default: converge once). */
  idempotence?: boolean;
  /** Use the instance as an earlier run left it, converging it again, instead of destroying it first. */
  reuse?: boolean;
}

/** An instance this process started and has not stopped: what the exit handlers clean up. */
interface Running {
  stateDir: string;
  configFile: string;
  name: string;
  keep: boolean;
  stop(): Promise<void>;
}

const live = new Set<Running>();

export class GalleyInstance {
  constructor(
    readonly name: string,
    private readonly options: GalleyInstanceOptions = {},
  ) {}

  /** Creates and converges the instance; resolves to its cluster once every node is provisioned. */
  async start<A extends object = Record<string, any>>(): Promise<StartedGalleyInstance<A>> {
    const loaded = loadConfig(resolveConfigPath(this.options.config));
    const plans = planInstances(loaded);
    const plan = plans.find((p) => p.name === this.name);
    if (!plan) throw new UserError(`${loaded.file}: no instance ${this.name} (instances: ${plans.map((p) => p.name).join(", ")})`);
    const instance = new Instance(plan, componentsFor(plan), (p) => [process.execPath, bin, "--config", p.configFile, "fault", p.name], afterRun);
    await instance.open(`GalleyInstance(${this.name}).start()`);
    const keep = Boolean(this.options.keep);
    let stopped: Promise<void> | undefined;
    const running: Running = {
      stateDir: plan.stateDir,
      configFile: plan.configFile,
      name: plan.name,
      keep,
      stop: () =>
        (stopped ??= (async () => {
          try {
            if (!keep) await instance.transitionTo("destroy");
          } finally {
            await instance.close();
            live.delete(running);
          }
        })()),
    };
    live.add(running);
    watchProcessExit();
    try {
      if (!this.options.reuse) await instance.transitionTo("destroy");
      await instance.transitionTo("converge");
      if (this.options.idempotence) await instance.checkIdempotence();
    } catch (err) {
      await running.stop().catch(() => {});
      throw err;
    }
    const a = readAttachFile(attachPath(plan.stateDir));
    // Faults go straight to this process's engine (the driver acts, the runner records them).
    const channel: FaultChannel = (spec) => instance.fault(spec);
    const { nodes, services, log } = connectBoxes<A>(a, plan.stateDir, channel);
    return new StartedGalleyInstance<A>(a, nodes, services, channel, log, running);
  }
}

/** A running instance: the Cluster its suites would see (nodes, Node verbs, faults), and stop(). */
export class StartedGalleyInstance<A extends object = Record<string, any>> extends Cluster<A> {
  /** @internal */
  constructor(a: AttachFile, nodes: Node<A>[], services: Node[], channel: FaultChannel, log: InstanceLog, private readonly running: Running) {
    super(a, nodes, services, channel, undefined, log);
  }

  /** Destroys the instance (unless `keep` was asked) and lets go of it. Safe to call twice. */
  async stop(): Promise<void> {
    await this.close();
    await this.running.stop();
  }
}

let watching = false;

/** Once per process: destroy what is still running when the process ends. */
function watchProcessExit(): void {
  if (watching) return;
  watching = true;
  // At exit only synchronous work runs: our lock goes (we are the owner), then a `galley destroy` child.
  process.on("exit", () => {
    for (const r of live) {
      if (r.keep) continue;
      rmSync(path.join(r.stateDir, "lock"), { recursive: true, force: true });
      rmSync(path.join(r.stateDir, "lock.pid"), { force: true });
      spawnSync(process.execPath, [bin, "--config", r.configFile, "destroy", r.name], { stdio: "ignore", timeout: 120_000 });
    }
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      process.off(signal, onSignal);
      // Then the signal again, without this handler: the process ends as it would have (listeners that
      // only watch for signals, such as proper-lockfile's signal-exit, re-raise it when they are alone).
      void Promise.allSettled([...live].map((r) => r.stop())).finally(() => process.kill(process.pid, signal));
    };
    process.on(signal, onSignal);
  }
}
