// galley test: destroy, create, converge, converge again (idempotence), verify, destroy; and
// galley idempotence: one more converge of a converged instance, which must change nothing.
import { Option, type Command } from "commander";
import type { DestroyPolicy } from "../../instance/instance.ts";
import { concurrencyOption, type CliContext } from "../context.ts";

export function register(program: Command, ctx: CliContext): void {
  program
    .command("test [instance]")
    .description("destroy, create, converge, verify, then destroy (by --destroy policy)")
    .addOption(new Option("--destroy <policy>", "when to destroy after the run").choices(["passing", "always", "never"]).default("passing"))
    .option("--no-idempotence", "skip the second converge that checks the provisioning changes nothing")
    .addOption(concurrencyOption())
    .action(async (pattern: string | undefined, opts: { destroy: DestroyPolicy; idempotence: boolean; concurrency: number }) => {
      await ctx.forEach(ctx.plans(pattern), opts.concurrency, (i) => i.test(opts.destroy, { idempotence: opts.idempotence }));
    });

  program
    .command("idempotence [instance]")
    .description("converge a converged instance again and fail if anything changed, naming node and step")
    .addOption(concurrencyOption())
    .action(async (pattern: string | undefined, opts: { concurrency: number }) => {
      await ctx.forEach(ctx.plans(pattern), opts.concurrency, (i) => i.checkIdempotence());
    });
}
