// Snapshots of an instance (`galley snapshot`, `galley restore`, and verifiers that start destructive
// suites from a clean cluster): the driver saves and remakes the boxes; this runner checks what may be
// snapshotted, records each snapshot in the state (when, of which converge) and, after a restore, puts
// the state back to what it was at the snapshot: new container ids, no faults in effect, the same
// lifecycle step. The Instance owns it and stays the only writer of the state: the runner writes
// through it, as the fault runner does.
import type { BoxAddress } from "../contracts/attach.ts";
import type { DriverFacts, Snapshots } from "../drivers/driver.ts";
import { ActionFailed, CommandFailed, commandFailure, UserError } from "../errors.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceState } from "../state/state-file.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { PhaseClock } from "../util/step-timings.ts";
import { formatMs, isVerbose, line, task, type Progress } from "../util/ui.ts";
import type { Components } from "./components.ts";

/** The snapshot verify takes right after a converge, for `isolate_destructive: snapshot`. */
export const AFTER_CONVERGE = "converged";

export interface SnapshotHost {
  readonly plan: InstancePlan;
  readonly state: InstanceState;
  readonly components: Components;
  readonly log: InstanceLog;
  address(name: string): BoxAddress;
  recordBoxes(facts: DriverFacts): void;
  save(): void;
}

export class SnapshotRunner {
  constructor(private readonly host: SnapshotHost) {}

  private driverSnapshots(what: string): Snapshots {
    const { driver } = this.host.components;
    if (!driver.snapshots) throw new UserError(`the ${driver.name} driver cannot take or restore snapshots (${what} of ${this.host.plan.name})`);
    return driver.snapshots;
  }

  async take(name: string, label = "snapshot"): Promise<void> {
    const { plan, state } = this.host;
    const snapshots = this.driverSnapshots(`snapshot ${name}`);
    if (!Object.keys(state.nodes).length) throw new UserError(`instance ${plan.name} is not created: nothing to snapshot`);
    const inEffect = [...Object.entries(state.faults ?? {}).map(([n, f]) => `${n} ${f.join("+")}`), ...(state.links ?? []).map((l) => l.spec.kind)];
    if (inEffect.length) throw new UserError(`cannot snapshot ${plan.name} with faults in effect (${inEffect.join(", ")}): \`galley fault ${plan.name} heal\` first`);
    const started = Date.now();
    const phases = new PhaseClock();
    await task(`${label.padEnd(8)} ${plan.name}`, (progress) => snapshots.take(plan, state, name, timed(phases, progress)));
    this.recordTimings("snapshot", phases, started);
    state.snapshots = {
      ...state.snapshots,
      [name]: { takenAt: new Date().toISOString(), convergedAt: state.convergedAt, lastAction: state.lastAction, ...(state.changedBy ? { changedBy: [...state.changedBy] } : {}), tookMs: Date.now() - started },
    };
    this.host.log.write("snapshot", `took snapshot ${name} of ${plan.name} in ${formatMs(Date.now() - started)}`);
    this.host.save();
  }

  async restore(name: string, label = "restore"): Promise<void> {
    const { plan, state } = this.host;
    const snapshots = this.driverSnapshots(`restore of ${name}`);
    const record = state.snapshots?.[name];
    if (!record) {
      const have = Object.keys(state.snapshots ?? {});
      throw new UserError(`no snapshot ${name} of ${plan.name} (${have.length ? `snapshots: ${have.join(", ")}` : `none taken: \`galley snapshot ${plan.name}\``})`);
    }
    const started = Date.now();
    const phases = new PhaseClock();
    try {
      await task(`${label.padEnd(8)} ${plan.name}`, async (untimed) => {
        const progress = timed(phases, untimed);
        await snapshots.restore(plan, state, name, { progress, record: (f) => this.host.recordBoxes(f) });
        if (plan.verifier.restoreReady) {
          progress("waiting for restore_ready");
          await this.waitUntilReady(plan.verifier.restoreReady);
        }
      });
    } catch (err) {
      state.lastError = `restore ${name}: ${(err as Error).message.split("\n")[0]}`;
      this.host.save(); // the boxes that exist now
      throw err instanceof UserError || err instanceof ActionFailed ? err : new ActionFailed(`restore of snapshot ${name} of ${plan.name} failed: ${(err as Error).message}`, { cause: err });
    }
    // The boxes are the snapshot's: nothing is faulty, and the instance is where it was then.
    delete state.faults;
    delete state.links;
    delete state.lastError;
    if (record.changedBy) state.changedBy = [...record.changedBy];
    else delete state.changedBy;
    state.lastAction = record.lastAction;
    state.convergedAt = record.convergedAt;
    this.recordTimings("restore", phases, started);
    const ms = Date.now() - started;
    state.snapshots = { ...state.snapshots, [name]: { ...record, restoredAt: new Date().toISOString(), restoreMs: ms } };
    this.host.log.write("snapshot", `restored snapshot ${name} of ${plan.name} in ${formatMs(ms)}`);
    this.host.save();
  }

  /** Where a snapshot's or restore's seconds went: the log, `timings.<what>` in the state, and -v. */
  private recordTimings(what: "snapshot" | "restore", phases: PhaseClock, started: number): void {
    const summary = `${phases.summary(Date.now())} (${formatMs(Date.now() - started)} in all)`;
    this.host.log.write("timings", `${what}: ${summary}`);
    this.host.state.timings = { ...this.host.state.timings, [what]: summary };
    if (isVerbose()) line(`  ${what} ${this.host.plan.name}: ${summary}`);
  }

  /** Polls the verifier's restore_ready command on every node until it succeeds there (the boot timeout bounds it). */
  private async waitUntilReady(command: string): Promise<void> {
    const { plan, components } = this.host;
    const timeoutMs = plan.driver.bootTimeoutMs;
    const script = `end=$(( $(date +%s) + ${Math.ceil(timeoutMs / 1000)} ))
until out=$( (${command}) 2>&1 ); do
  [ $(date +%s) -ge $end ] && { printf '%s\\n' "$out" | tail -5; exit 124; }
  sleep 0.2
done`;
    await Promise.all(plan.nodes.filter((n) => this.host.state.nodes[n.name]).map(async ({ name }) => {
      const conn = await components.transport.connect(this.host.address(name));
      try {
        const r = await conn.exec(script, { timeoutMs: timeoutMs + 10_000 });
        if (r.exitCode !== 0) throw new CommandFailed(commandFailure(name, `restore_ready (${command}), polled for ${formatMs(timeoutMs)} after the restore`, r));
      } finally {
        await conn.close();
      }
    }));
  }

  /** Whether snapshot `name` holds the instance's current converge, untouched since (what a destructive suite may start from). */
  holdsCurrentConverge(name: string): boolean {
    const { state } = this.host;
    const r = state.snapshots?.[name];
    return Boolean(r && state.convergedAt && r.convergedAt === state.convergedAt && !r.changedBy?.length);
  }
}

/** Progress that also marks the phase's start on the clock. */
function timed(phases: PhaseClock, progress: Progress): Progress {
  return (text) => {
    phases.mark(text, Date.now());
    progress(text);
  };
}
