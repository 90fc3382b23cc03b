// galley chaos: a converged instance, a schedule of faults (made from a seed, or replayed from a file),
// and the instance's chaos checks — invariants that poll for the whole run, the chaos() check that runs
// the schedule (faults come back to the engine over IPC, like any suite's), final checks after the heal.
// Everything lands in .galley/<instance>/chaos.json: the schedule, each step as it ran, every poll and
// every check, with times. Whatever is still in effect at the end is healed by the engine too.
import { randomInt } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { attachPath } from "../contracts/attach.ts";
import { messageOf, UserError } from "../errors.ts";
import type { Instance } from "../instance/instance.ts";
import { writeJsonAtomic } from "../state/state-file.ts";
import type { CheckResult, VerifyReport } from "../verifiers/results.ts";
import { makeSchedule, readSchedule, type ChaosFault, type ChaosSchedule } from "./schedule.ts";

export interface ChaosOptions {
  seed?: number;
  durationMs: number;
  faults: ChaosFault[];
  /** A chaos.json (or schedule file) whose schedule runs again. */
  replay?: string;
  /** Checks to run instead of the suite's verifier.chaos. */
  checks?: string[];
}

export interface ChaosResult {
  format: 1;
  instance: string;
  schedule: ChaosSchedule;
  startedAt: number;
  endedAt: number;
  steps: NonNullable<VerifyReport["chaos"]>;
  polls: NonNullable<VerifyReport["polls"]>;
  checks: CheckResult[];
  /** Faults still in effect after the checks, healed by the engine ("" when none). */
  leftover: string;
  passed: boolean;
}

export const chaosFile = (stateDir: string) => path.join(stateDir, "chaos.json");

export function scheduleFor(inst: Instance, o: ChaosOptions): ChaosSchedule {
  const nodes = inst.plan.nodes.map((n) => n.name);
  if (o.replay) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.replay, "utf8"));
    } catch (err) {
      throw new UserError(`--replay ${o.replay}: ${messageOf(err)}`);
    }
    return readSchedule(json, nodes, o.replay);
  }
  return makeSchedule({ seed: o.seed ?? randomInt(1, 2 ** 31), durationMs: o.durationMs, faults: o.faults, nodes, leader: true });
}

export async function runChaos(inst: Instance, o: ChaosOptions): Promise<ChaosResult> {
  const { plan } = inst;
  const checks = o.checks ?? plan.verifier.chaos;
  if (!checks?.length) throw new UserError(`${plan.name} has no chaos checks: set verifier.chaos for suite ${plan.suite} in ${plan.configFile}, or pass --checks`);
  const schedule = scheduleFor(inst, o);
  if (inst.state.lastAction !== "converge" && inst.state.lastAction !== "verify") await inst.transitionTo("converge");
  const scheduleFile = path.join(plan.stateDir, "chaos-schedule.json");
  writeFileSync(scheduleFile, JSON.stringify(schedule, null, 2) + "\n");
  inst.log.write("galley", `== chaos ${plan.name}: seed ${schedule.seed}, ${schedule.durationMs / 1000} s, ${schedule.steps.length} steps (${schedule.faults.join(", ")})`);
  inst.save(); // the attach file is what the checks read
  const startedAt = Date.now();
  let report: VerifyReport;
  let leftover = "";
  try {
    report = await inst.components.verifier.verify({
      plan,
      attachFile: attachPath(plan.stateDir),
      log: inst.log,
      fault: (spec) => inst.fault(spec),
      suites: checks,
      env: { GALLEY_CHAOS: scheduleFile, GALLEY_SEED: String(schedule.seed) },
      outputs: { results: path.join(plan.stateDir, "chaos-checks.json"), junit: path.join(plan.stateDir, "chaos-junit.xml") },
    });
  } finally {
    // Whatever the checks left (they died, a step failed): healed here, and said so.
    leftover = inEffect(inst);
    if (leftover) await inst.fault({ kind: "heal", scope: "all" }).catch((e) => inst.log.write("chaos", `heal after the run failed: ${messageOf(e)}`));
  }
  const result: ChaosResult = {
    format: 1,
    instance: plan.name,
    schedule,
    startedAt,
    endedAt: Date.now(),
    steps: report.chaos ?? [],
    polls: report.polls ?? [],
    checks: report.checks,
    leftover,
    passed: report.checks.every((c) => c.state !== "failed") && !report.polls?.some((p) => !p.ok) && !report.chaos?.some((s) => s.error),
  };
  writeJsonAtomic(chaosFile(plan.stateDir), result);
  return result;
}

function inEffect(inst: Instance): string {
  return [...Object.entries(inst.state.faults ?? {}).map(([n, f]) => `${n} ${f.join("+")}`), ...(inst.state.links ?? []).map((l) => JSON.stringify(l.spec))].join("; ");
}
