// Runs lifecycle actions on one instance. The only writer of instance state: records the attempted
// action, sets lastAction only on success, and saves the state after every step (and on interrupt).
import { ActionFailed, EnvironmentError, InstanceFailure, LockedError, messageOf, UserError } from "../errors.ts";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { converge } from "../provisioners/converge.ts";
import type { InstancePlan } from "../plan/plan.ts";
import { setUpServices } from "../services/services.ts";
import { lockInstance, readState, writeState, type Action, type InstanceState } from "../state/state-file.ts";
import { InstanceLog } from "../util/instance-log.ts";
import { formatMs, line, task } from "../util/ui.ts";
import { runVerifier, type CheckResult } from "../verifier/mocha.ts";
import { formatCounts } from "../verifier/results.ts";
import { componentsFor, type Components } from "./components.ts";
import { actionsBetween } from "./fsm.ts";

export type DestroyPolicy = "passing" | "always" | "never";

/** Open instances, so an interrupt can save their state before exiting. */
export const openInstances = new Set<Instance>();

export class Instance {
  readonly log: InstanceLog;
  readonly components: Components;
  state: InstanceState;
  lastVerify?: CheckResult[];
  private unlock?: () => Promise<void>;

  constructor(readonly plan: InstancePlan) {
    this.log = new InstanceLog(plan.stateDir);
    this.components = componentsFor(plan);
    this.state = this.readStateOrFresh();
  }

  /** An unreadable state file must not block `destroy` (which works from labels): remember the error. */
  private stateError?: Error;
  private readStateOrFresh(): InstanceState {
    try {
      this.stateError = undefined;
      return readState(this.plan.stateDir, this.plan.name);
    } catch (err) {
      this.stateError = err as Error;
      return { instance: this.plan.name, nodes: {} };
    }
  }

  /** Takes the instance's lock for the whole command (a second galley process gets a clear error). */
  async open(): Promise<this> {
    this.unlock = await lockInstance(this.plan.stateDir, this.plan.name);
    this.state = this.readStateOrFresh();
    openInstances.add(this);
    return this;
  }

  async close(): Promise<void> {
    openInstances.delete(this);
    await this.unlock?.().catch(() => {});
    this.unlock = undefined;
  }

  save(): void {
    writeState(this.plan.stateDir, this.state);
  }

  /** Runs one action; returns its error instead of throwing (for the matrix, where failures are data). */
  async attempt(action: Action): Promise<Error | undefined> {
    try {
      await this.run(action);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  /** Runs the lifecycle up to `desired`. */
  async transitionTo(desired: Action): Promise<void> {
    if (this.stateError && desired !== "destroy") throw this.stateError;
    const actions = actionsBetween(this.state.lastAction, desired);
    if (actions.includes("create") && actions.includes("converge")) this.prefetchArtifacts();
    for (const action of actions) await this.run(action);
  }

  /**
   * Starts building or fetching the artifacts while the boxes boot: on a cold run the fleet build
   * and the box build overlap. Converge awaits the same promises (or sees the error then).
   */
  private prefetchArtifacts(): void {
    for (const [name, spec] of Object.entries(this.plan.artifacts)) resolveArtifact(name, spec).catch(() => {});
  }

  async test(policy: DestroyPolicy, { idempotence = true } = {}): Promise<void> {
    try {
      await this.run("destroy");
      this.prefetchArtifacts();
      await this.transitionTo("converge");
      if (idempotence) await this.checkIdempotence();
      await this.transitionTo("verify");
    } catch (err) {
      if (policy === "always") {
        // Clean up, but report the failure that mattered, not a cleanup error on top of it.
        const cleanup = await this.attempt("destroy");
        if (cleanup) line(`  ${this.plan.name}: destroy after the failure also failed: ${messageOf(cleanup).split("\n")[0]}`);
      } else {
        line(`  ${this.plan.name} kept for inspection: galley login ${this.plan.name} · galley destroy ${this.plan.name}`);
      }
      throw err;
    }
    if (policy !== "never") await this.run("destroy");
  }

  /**
   * Converges a converged instance once more: a provisioning that changes anything the second time is
   * not idempotent. Fails naming each node, step and change.
   */
  async checkIdempotence(): Promise<void> {
    if (this.state.lastAction !== "converge" && this.state.lastAction !== "verify") await this.transitionTo("converge");
    await this.run("converge", "converge again (idempotence)", () => {
      const changed = Object.entries(this.state.changes ?? {}).filter(([, c]) => c.length);
      if (changed.length) {
        const list = changed.flatMap(([node, c]) => c.map((line) => `  ${node}: ${line}`)).join("\n");
        throw new ActionFailed(`not idempotent: the second converge changed ${changed.map(([n]) => n).join(", ")}:\n${list}`);
      }
    });
  }

  private async run(action: Action, what: string = action, check?: () => void): Promise<void> {
    const { plan, state } = this;
    const { driver, transport, provisioner } = this.components;
    state.lastAttempted = action;
    this.log.write("galley", `== ${what} ${plan.name}`);
    const label = `${what.padEnd(8)} ${plan.name}`;
    try {
      await task(label, async (progress) => {
        switch (action) {
          case "destroy":
            await driver.destroy(plan, state);
            delete state.changes;
            delete state.exports;
            break;
          case "create":
            // New service containers mean new tokens: what the old ones exported is void.
            delete state.exports;
            delete state.changes;
            try {
              await driver.create(plan, state, progress);
              if (Object.keys(plan.services).length) {
                progress("setting up services");
                await setUpServices(plan, state, this.log);
              }
            } finally {
              this.save(); // containers exist now: record them even if booting failed
            }
            break;
          case "converge":
            await converge(plan, state, transport, provisioner, this.log, progress);
            check?.();
            break;
          case "verify":
            await this.verify();
            break;
        }
      });
      state.lastAction = action === "destroy" ? undefined : action;
      delete state.lastError;
    } catch (err) {
      state.lastError = `${action}: ${messageOf(err).split("\n")[0]}`;
      // Bad input and a broken environment keep their own errors; anything that went wrong on the
      // instance (an action, a node that cannot be reached, a failed check) names the instance.
      if (err instanceof UserError || err instanceof EnvironmentError || err instanceof LockedError) throw err;
      if (err instanceof InstanceFailure) throw err;
      throw new InstanceFailure(plan.name, action, `${what} failed on ${plan.name}:\n${messageOf(err)}\n(log: ${this.log.file})`, { cause: err });
    } finally {
      this.save();
    }
  }

  private async verify(): Promise<void> {
    const report = await runVerifier(this.plan, this.log);
    const results = report.checks;
    this.lastVerify = results;
    const failed = results.filter((r) => r.state === "failed");
    const passed = results.filter((r) => r.state === "passed");
    const skipped = results.filter((r) => r.state === "pending");
    for (const r of results) {
      if (r.state === "passed") this.log.write("verify", `✓ ${r.title} (${formatMs(r.ms)})`);
      if (r.state === "pending") this.log.write("verify", `- ${r.title}: skipped: ${r.skipReason}`);
    }
    // Counts per suite, always: a green line must say what ran and what did not.
    const perSuite = report.suites.map((s) => `    ${s.suite}: ${formatCounts(s)}`).join("\n");
    const skips = skipped.map((r) => `    - ${r.title}: skipped: ${r.skipReason}`).join("\n");
    if (failed.length) {
      const detail = failed.map((r) => `  ✗ ${r.title}\n${indent(r.error ?? "", 6)}`).join("\n");
      throw new ActionFailed(`${failed.length} of ${results.length} checks failed (${passed.length} passed, ${skipped.length} skipped):\n${detail}\n  per suite:\n${perSuite}`);
    }
    line(`  ${passed.length} checks passed on ${this.plan.name}${skipped.length ? `, ${skipped.length} skipped` : ""}\n${perSuite}${skips ? `\n${skips}` : ""}`);
  }
}

function indent(text: string, n: number): string {
  return text.split("\n").map((l) => " ".repeat(n) + l).join("\n");
}
