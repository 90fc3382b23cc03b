// galley chaos INSTANCE [--seed N] [--duration 2m] [--faults partition,degrade,pause,crash] [--replay FILE]
// A seeded random schedule of faults while the instance's chaos checks poll their invariants; healed at
// the end, final checks after. Exits 10 when a check or invariant failed (evidence and report written).
import path from "node:path";
import type { Command } from "commander";
import { runChaos } from "../../chaos/run.ts";
import { CHAOS_FAULTS, parseChaosFaults } from "../../chaos/schedule.ts";
import { durationMs } from "../../config/schema.ts";
import { afterRun } from "../../evidence/after-run.ts";
import { InstanceFailure, UserError } from "../../errors.ts";
import { line } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

interface ChaosFlags {
  seed?: string;
  duration: string;
  faults: string;
  replay?: string;
  checks?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("chaos <instance>")
    .description("random faults (seeded) while the instance's chaos checks poll invariants; heal, final checks; .galley/<instance>/chaos.json")
    .option("--seed <n>", "seed of the schedule (default: random, printed)")
    .option("--duration <d>", "how long faults are injected (30s, 2m)", "2m")
    .option("--faults <list>", `which faults: ${CHAOS_FAULTS.join(",")}`, "partition,degrade,pause,crash")
    .option("--replay <file>", "run the schedule of an earlier chaos.json again")
    .option("--checks <path>", "spec files or folder to run instead of the suite's verifier.chaos")
    .action(async (instance: string, o: ChaosFlags) => {
      const seed = o.seed === undefined ? undefined : Number(o.seed);
      if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UserError(`--seed takes a whole number, not ${o.seed}`);
      let duration: number;
      try {
        duration = durationMs(o.duration, 120_000);
      } catch {
        throw new UserError(`--duration takes a duration like 30s or 2m, not ${o.duration}`);
      }
      const inst = await ctx.created(instance).open();
      try {
        const result = await runChaos(inst, {
          seed,
          durationMs: duration,
          faults: parseChaosFaults(o.faults),
          replay: o.replay,
          checks: o.checks ? [path.resolve(o.checks)] : undefined,
        });
        const failed = result.checks.filter((c) => c.state === "failed");
        const brokenPolls = result.polls.filter((p) => !p.ok).length;
        const summary = `chaos ${instance}: seed ${result.schedule.seed}, ${result.steps.length} steps, ${result.polls.length} polls (${brokenPolls} failed), ${result.checks.length} checks (${failed.length} failed)`;
        const files = await afterRun(inst, {
          failed: !result.passed,
          reason: `galley chaos ${instance} (seed ${result.schedule.seed}): ${[...failed.map((c) => c.test), ...(brokenPolls ? [`${brokenPolls} invariant polls failed`] : [])].join("; ")}`,
          results: { json: path.join(inst.plan.stateDir, "chaos-checks.json"), junit: path.join(inst.plan.stateDir, "chaos-junit.xml") },
        });
        if (!result.passed) {
          throw new InstanceFailure(instance, "chaos", `${summary}\n${failed.map((c) => `  ✗ ${c.title}\n${(c.error ?? "").split("\n").map((l) => `      ${l}`).join("\n")}`).join("\n")}\n${files}`);
        }
        line(`  ${summary}\n${files}`);
      } finally {
        await inst.close();
      }
    });
}
