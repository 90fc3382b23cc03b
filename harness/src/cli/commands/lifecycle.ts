// create, converge, verify, destroy: one lifecycle step (and every step before it that is missing).
import type { Command } from "commander";
import type { Action } from "../../state/state-file.ts";
import { concurrencyOption, type CliContext } from "../context.ts";

const WHAT: Record<Action, string> = {
  create: "boot the instance's nodes",
  converge: "provision the nodes (creating them first if needed)",
  verify: "run the verification suites (creating and converging first if needed)",
  destroy: "remove the instance's boxes, networks and volumes",
};

export function register(program: Command, ctx: CliContext): void {
  for (const action of ["create", "converge", "verify", "destroy"] as Action[]) {
    program
      .command(`${action} [instance]`)
      .description(`${WHAT[action]}; INSTANCE is a name, a regular expression or all (default)`)
      .addOption(concurrencyOption())
      .action(async (pattern: string | undefined, opts: { concurrency: number }) => {
        await ctx.forEach(ctx.plans(pattern, action === "destroy"), opts.concurrency, (i) => i.transitionTo(action));
      });
  }
}
