// Runs lifecycle actions on one instance. The only writer of instance state: plugins report what they
// learn (the driver its boxes, converge its exports and changes) and this class stores it; it records
// the attempted action, sets lastAction only on success, saves the state after every step (and on
// interrupt), and keeps .galley/<instance>/attach.json — what suites read — in step with it.
import { rmSync } from "node:fs";
import path from "node:path";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { attachPath, type AttachFile, type BoxAddress } from "../contracts/attach.ts";
import type { FaultSpec } from "../contracts/faults.ts";
import { deepMerge } from "../config/merge.ts";
import { faultKindsOf, type DriverFacts } from "../drivers/driver.ts";
import { ActionFailed, ChecksFailed, EnvironmentError, InstanceFailure, LockedError, messageOf, summaryOf, UserError } from "../errors.ts";
import type { InstancePlan } from "../plan/plan.ts";
import { converge, type ConvergeFacts } from "../provisioners/converge.ts";
import { nestExports, serviceAddresses, setUpServices } from "../services/services.ts";
import { lockInstance, readState, writeJsonAtomic, writeState, type Action, type InstanceState } from "../state/state-file.ts";
import { InstanceLog } from "../util/instance-log.ts";
import { ensureInstanceKey } from "../util/ssh-key.ts";
import { PhaseClock, StepTimings } from "../util/step-timings.ts";
import { formatMs, isVerbose, line, task } from "../util/ui.ts";
import { formatCounts, type CheckResult } from "../verifiers/results.ts";
import type { Components } from "./components.ts";
import { FaultRunner } from "./fault-runner.ts";
import { AFTER_CONVERGE, SnapshotRunner } from "./snapshots.ts";
import { timelineFile } from "./faults.ts";
import { actionsBetween } from "./fsm.ts";

export type DestroyPolicy = "passing" | "always" | "never";

/** Open instances, so an interrupt can save their state before exiting. */
export const openInstances = new Set<Instance>();

/** The command a suite runs to inject a fault when no engine is attached (argv, then NODE KIND). */
export type FaultCommand = (plan: InstancePlan) => string[];

/** What happened in a run of checks (verify, chaos) or a failed action, for what runs after it. */
export interface RunOutcome {
  failed: boolean;
  reason: string;
  /** The run's results and the JUnit file to rewrite with attachments. */
  results?: { json: string; junit: string };
}

/**
 * Runs after checks and after a failed action: the evidence bundle and the report (evidence/after-run.ts,
 * given by the CLI; the runner does not import it, so evidence and report may read the instance). Returns
 * the lines to print.
 */
export type AfterRun = (inst: Instance, outcome: RunOutcome) => Promise<string>;

export class Instance {
  readonly log: InstanceLog;
  state: InstanceState;
  lastVerify?: CheckResult[];
  private unlock?: () => Promise<void>;
  private readonly faults = new FaultRunner(this);
  private readonly snapshots = new SnapshotRunner(this);

  constructor(
    readonly plan: InstancePlan,
    readonly components: Components,
    private readonly faultCommand: FaultCommand = () => [],
    private readonly afterRun: AfterRun = async () => "",
  ) {
    this.log = new InstanceLog(plan.stateDir);
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

  /**
   * Takes the instance's lock for the whole command (a second galley process gets a clear error). With
   * `command`, the instance log starts anew for it (the previous ones are kept as galley.log.1…).
   */
  async open(command?: string): Promise<this> {
    this.unlock = await lockInstance(this.plan.stateDir, this.plan.name);
    this.state = this.readStateOrFresh();
    if (command) this.log.startRun(command);
    openInstances.add(this);
    return this;
  }

  async close(): Promise<void> {
    this.components.verifier.dispose?.();
    this.log.flush();
    openInstances.delete(this);
    await this.unlock?.().catch(() => {});
    this.unlock = undefined;
  }

  /** Saves the state, and the attach file suites read (removed when the instance has no boxes). */
  save(): void {
    writeState(this.plan.stateDir, this.state);
    const file = attachPath(this.plan.stateDir);
    if (Object.keys(this.state.nodes).length) writeJsonAtomic(file, this.attachFile());
    else rmSync(file, { force: true });
  }

  /** An interrupt: the state says so, and is saved; the caller exits. */
  interrupted(signal: string): void {
    this.state.lastError = `interrupted (${signal}) during ${this.state.lastAttempted ?? "start"}`;
    this.save();
  }

  /** How to reach a node or service, from the state. */
  address(name: string): BoxAddress {
    const box = this.state.nodes[name] ?? this.state.services?.[name];
    if (!box) throw new UserError(`no node ${name} in ${this.plan.name} (nodes: ${this.plan.nodes.map((n) => n.name).join(", ")})`);
    return { name, ...box, keyFile: box.keyFile ?? this.state.sshKey };
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
    // Destructive suites changed the cluster last time: converge it back before checking it again.
    // With isolate_destructive: snapshot, the snapshot of this converge does it in seconds.
    if (desired === "verify" && this.state.changedBy?.length && !actions.includes("converge")) {
      if (this.isolatesDestructive() && this.snapshots.holdsCurrentConverge(AFTER_CONVERGE)) await this.snapshots.restore(AFTER_CONVERGE, "restore (after destructive suites)");
      else await this.run("converge", "converge (after destructive suites)");
    }
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
      if (idempotence) {
        // The verifier starts up while the provisioning runs once more.
        this.components.verifier.warmUp?.(this.plan);
        await this.checkIdempotence();
      }
      await this.transitionTo("verify");
    } catch (err) {
      if (policy === "always") {
        // Clean up, but report the failure that mattered, not a cleanup error on top of it.
        const cleanup = await this.attempt("destroy");
        // Say why: the wrapper's first line ("destroy failed on <instance>:") would not.
        const why = cleanup instanceof InstanceFailure && cleanup.cause ? cleanup.cause : cleanup;
        if (cleanup) line(`  ${this.plan.name}: destroy after the failure also failed: ${messageOf(why).split("\n")[0]} (log: ${this.log.file})`);
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
        const list = changed.flatMap(([node, c]) => c.map((l) => `  ${node}: ${l}`)).join("\n");
        throw new ActionFailed(`not idempotent: the second converge changed ${changed.map(([n]) => n).join(", ")}:\n${list}`);
      }
    });
  }

  /**
   * A fault asked for by a check (through the verifier), by `galley fault` or by a chaos schedule: the
   * driver acts, the state records what is in effect, and the timeline (faults.jsonl) when.
   */
  fault(spec: FaultSpec): Promise<void> {
    this.untouchedSinceSnapshot = false;
    return this.faults.fault(spec);
  }

  /** No fault and no destructive suite since the snapshot was taken or restored in this verify. */
  private untouchedSinceSnapshot = false;

  /** `galley snapshot`: every box and its volumes, saved by the driver under `name`. */
  snapshot(name: string = AFTER_CONVERGE): Promise<void> {
    return this.snapshots.take(name);
  }

  /** `galley restore`: every box remade from snapshot `name`; the state is what it was at the snapshot. */
  restore(name: string = AFTER_CONVERGE): Promise<void> {
    return this.snapshots.restore(name);
  }

  private isolatesDestructive(): boolean {
    return this.plan.verifier.isolateDestructive === "snapshot";
  }

  /** On an interrupt: undo what is quick to undo, so nothing stays cut off or frozen. */
  healOnInterrupt(): Promise<void> {
    return this.faults.healOnInterrupt();
  }

  /** A step's timing line: into the instance log and the state (`timings.<step>`). */
  private recordTimings(what: string, summary: string): string {
    this.log.write("timings", `${what}: ${summary}`);
    this.state.timings = { ...this.state.timings, [what]: summary };
    return summary;
  }

  /** What a driver learned about the boxes (create, restore): merged into the state. */
  recordBoxes(facts: DriverFacts): void {
    if (facts.session) this.state.session = facts.session;
    if (facts.network?.id) this.state.network = facts.network;
    if (facts.volumes) this.state.volumes = [...facts.volumes];
    if (facts.nodes) this.state.nodes = structuredClone(facts.nodes);
    if (facts.services) this.state.services = structuredClone(facts.services);
  }

  private recordConverge(facts: ConvergeFacts): void {
    if (facts.exports) this.state.exports = facts.exports;
    if (facts.changes) this.state.changes = facts.changes;
    if (facts.artifacts) this.state.artifacts = facts.artifacts;
  }

  private async run(action: Action, what: string = action, check?: () => void): Promise<void> {
    const { plan, state } = this;
    const { driver, transport, provisioner } = this.components;
    state.lastAttempted = action;
    this.log.write("galley", `== ${what} ${plan.name}`);
    const label = `${what.padEnd(8)} ${plan.name}`;
    // Where this step's seconds went (create, converge): to the log and state; printed with -v.
    let timings: string | undefined;
    try {
      await task(label, async (progress) => {
        switch (action) {
          case "destroy":
            await driver.destroy(plan, state);
            rmSync(path.join(plan.stateDir, "ssh"), { recursive: true, force: true });
            for (const k of ["changes", "exports", "artifacts", "faults", "links", "sshKey", "services", "network", "volumes", "session", "changedBy", "snapshots", "convergedAt"] as const) delete state[k];
            state.nodes = {};
            break;
          case "create": {
            // New service boxes mean new tokens: what the old ones exported is void.
            for (const k of ["changes", "exports", "artifacts", "faults", "links", "changedBy", "snapshots", "convergedAt"] as const) delete state[k];
            rmSync(timelineFile(plan.stateDir), { force: true }); // a new cluster: its fault timeline starts empty
            const key = ensureInstanceKey(plan.stateDir, plan.name);
            state.sshKey = key.privateKey;
            const phases = new PhaseClock();
            const started = Date.now();
            const timed = (text: string) => {
              phases.mark(text, Date.now());
              progress(text);
            };
            try {
              await driver.create(plan, { progress: timed, sshKey: key.privateKey, record: (f) => this.recordBoxes(f) });
              if (Object.keys(plan.services).length) {
                progress("setting up services");
                await setUpServices(plan, serviceAddresses(state), this.components.controlTransport, this.log);
              }
              timings = this.recordTimings(what, `${phases.summary(Date.now())} (${formatMs(Date.now() - started)} in all)`);
            } finally {
              this.save(); // boxes exist now: record them even if booting failed
            }
            break;
          }
          case "converge": {
            const key = ensureInstanceKey(plan.stateDir, plan.name);
            state.sshKey = key.privateKey;
            const started = Date.now();
            const steps = new StepTimings(started);
            const stopTiming = this.log.observe((source, text, at) => steps.line(source, text, at));
            await converge({
              plan,
              state,
              transport,
              controlTransport: this.components.controlTransport,
              driver,
              provisioner,
              sshKeyDir: key.dir,
              address: (n) => this.address(n),
              log: this.log,
              progress,
              record: (f) => this.recordConverge(f),
            }).finally(() => {
              stopTiming();
              timings = this.recordTimings(what, steps.summary(Date.now() - started));
            });
            check?.();
            delete state.changedBy;
            state.convergedAt = new Date().toISOString();
            break;
          }
          case "verify":
            await this.verify();
            break;
        }
      });
      if (timings && isVerbose()) line(`  ${what} ${plan.name}: ${timings}`);
      state.lastAction = action === "destroy" ? undefined : action;
      delete state.lastError;
    } catch (err) {
      state.lastError = `${action}: ${summaryOf(err)}`;
      // Bad input and a broken environment keep their own errors; anything that went wrong on the
      // instance (an action, a node that cannot be reached, a failed check) names the instance.
      if (err instanceof UserError || err instanceof EnvironmentError || err instanceof LockedError) throw err;
      if (err instanceof InstanceFailure) throw err;
      // Evidence a person can read (every node's journal, units, network, faults) and the report.
      const evidence = action === "destroy" ? "" : await this.afterRun(this, {
        failed: true,
        reason: `${what} failed: ${messageOf(err).split("\n")[0]}`,
        results: action === "verify" ? { json: path.join(plan.stateDir, "verify.json"), junit: path.join(plan.stateDir, "junit.xml") } : undefined,
      }).catch(() => "");
      throw new InstanceFailure(plan.name, action, `${what} failed on ${plan.name}:\n${messageOf(err)}\n(log: ${this.log.file})${evidence ? `\n${evidence}` : ""}`, { cause: err });
    } finally {
      this.save();
    }
  }

  /** What suites read: addresses, attributes with the services' exports, artifacts, fault verbs. */
  attachFile(): AttachFile {
    const { plan, state } = this;
    const exported = nestExports(state.exports ?? {});
    const driver = this.components.driver;
    return {
      format: 1,
      instance: plan.name,
      attributes: deepMerge(plan.attributes, exported),
      exports: state.exports ?? {},
      artifacts: state.artifacts ?? {},
      transport: { name: plan.transport.name, commandTimeoutMs: plan.transport.commandTimeoutMs },
      controlTransport: { name: driver.controlTransport, commandTimeoutMs: plan.transport.commandTimeoutMs },
      nodes: plan.nodes.filter((n) => state.nodes[n.name]).map((n) => ({ ...this.address(n.name), index: n.index, attributes: deepMerge(n.attributes, exported) })),
      services: Object.keys(state.services ?? {}).map((s) => this.address(s)),
      driver: { name: driver.name, faults: faultKindsOf(driver) },
      faultCommand: this.faultCommand(plan),
    };
  }

  private async verify(): Promise<void> {
    // Destructive suites each start from the cluster as this converge left it: snapshot it first (once per converge).
    const isolate = this.isolatesDestructive();
    if (isolate && !this.snapshots.holdsCurrentConverge(AFTER_CONVERGE)) await this.snapshots.take(AFTER_CONVERGE, "snapshot (for destructive suites)");
    // A verify that restores first (after a previous one's destructive suites) or just took the snapshot
    // starts from it: the first destructive suite needs no restore unless a fault came first.
    this.untouchedSinceSnapshot = isolate && this.snapshots.holdsCurrentConverge(AFTER_CONVERGE) && !this.state.changedBy?.length;
    const restoreForSuite = async () => {
      const untouched = this.untouchedSinceSnapshot && !Object.keys(this.state.faults ?? {}).length && !this.state.links?.length;
      this.untouchedSinceSnapshot = false; // the suite about to start may change anything
      if (untouched) this.log.write("snapshot", "no restore before this destructive suite: no fault and no destructive suite since the snapshot");
      else await this.snapshots.restore(AFTER_CONVERGE, "restore (before a destructive suite)");
    };
    this.save(); // the attach file is what the checks read
    const report = await this.components.verifier.verify({
      plan: this.plan,
      attachFile: attachPath(this.plan.stateDir),
      log: this.log,
      fault: (spec) => this.fault(spec),
      ...(isolate ? { restore: restoreForSuite } : {}),
    });
    const results = report.checks;
    this.lastVerify = results;
    if (report.destructive?.length) this.state.changedBy = report.destructive;
    // A verifier that ran no checks proved nothing (whatever verifier it is).
    if (!results.length) throw new ActionFailed(`the ${this.components.verifier.name} verifier ran no checks on ${this.plan.name}: nothing was verified`);
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
      throw new ChecksFailed(`${failed.length} of ${results.length} checks failed (${passed.length} passed, ${skipped.length} skipped):\n${detail}\n  per suite:\n${perSuite}`, failed.map((r) => r.title));
    }
    const drawn = await this.afterRun(this, { failed: false, reason: "" });
    line(`  ${passed.length} checks passed on ${this.plan.name}${skipped.length ? `, ${skipped.length} skipped` : ""}\n${perSuite}${skips ? `\n${skips}` : ""}${drawn ? `\n  ${drawn}` : ""}`);
  }
}

function indent(text: string, n: number): string {
  return text.split("\n").map((l) => " ".repeat(n) + l).join("\n");
}
