// The galley command: a table of small command modules over one context. The only place that exits:
// 0 all passed · 10 an instance failed an action · 20 bad input or environment · 130 interrupted · 1 a bug.
import { Command } from "commander";
import { GalleyError, InstanceFailure } from "../errors.ts";
import { openInstances } from "../instance/instance.ts";
import { killChildren } from "../util/children.ts";
import * as chaos from "./commands/chaos.ts";
import * as collect from "./commands/collect.ts";
import * as doctor from "./commands/doctor.ts";
import * as fault from "./commands/fault.ts";
import * as init from "./commands/init.ts";
import * as lifecycle from "./commands/lifecycle.ts";
import * as list from "./commands/list.ts";
import * as matrix from "./commands/matrix.ts";
import * as nodes from "./commands/nodes.ts";
import * as prune from "./commands/prune.ts";
import * as snapshot from "./commands/snapshot.ts";
import * as test from "./commands/test.ts";
import { CliContext } from "./context.ts";

const program = new Command("galley")
  .description("Test Kitchen for clusters: boot N systemd boxes per instance, provision them, verify the cluster")
  .option("--config <file>", "configuration file (default: $GALLEY_CONFIG or ./galley.yml)")
  .option("-v, --verbose", "print every progress update, and where each create and converge spent its time (as GALLEY_VERBOSE=1)")
  .showHelpAfterError();

program.hook("preAction", () => {
  if (program.opts().verbose) process.env.GALLEY_VERBOSE = "1";
});
const ctx = new CliContext(() => program.opts().config);
const COMMANDS = [init, doctor, list, lifecycle, test, matrix, nodes, fault, chaos, collect, prune, snapshot];
for (const c of COMMANDS) c.register(program, ctx);

// Interrupts: save every open instance's state, say how to go on, exit promptly.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    killChildren(signal);
    for (const inst of openInstances) {
      try {
        inst.interrupted(signal);
      } catch {
        /* best effort */
      }
      process.stderr.write(
        `\n${signal}: stopped ${inst.plan.name} during ${inst.state.lastAttempted}; state saved.\n` +
          `  resume: galley ${inst.state.lastAttempted === "verify" ? "verify" : "converge"} ${inst.plan.name}\n` +
          `  clean up: galley destroy ${inst.plan.name}\n`,
      );
    }
    // Network faults, frozen nodes and units are undone before exiting: nothing stays cut off or frozen.
    void Promise.all([...openInstances].map((i) => i.healOnInterrupt().catch(() => {}).finally(() => i.close()))).finally(() => process.exit(130));
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InstanceFailure) {
    process.stderr.write(`\n${err.message}\n`);
    process.exitCode = 10;
  } else if (err instanceof GalleyError) {
    process.stderr.write(`galley: ${err.message}\n`);
    process.exitCode = 20;
  } else {
    process.stderr.write(`galley: internal error (please report it): ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  }
}
