// galley prune: removes what Galley made on this host for this project (--all: for every project),
// with or without state files, through each driver the configuration uses.
import type { Command } from "commander";
import { GalleyError } from "../../errors.ts";
import { driverFor } from "../../instance/components.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

export function register(program: Command, ctx: CliContext): void {
  program
    .command("prune")
    .description("remove every box, network and volume Galley made for this project (--all: any project), with or without state files")
    .option("--all", "everything Galley made on this host, whatever project")
    .action(async (opts: { all?: boolean }) => {
      const plans = ctx.plans();
      const drivers = new Map(plans.map((p) => [p.driver.name, driverFor(p)]));
      const project = opts.all ? undefined : ctx.config().root;
      const failed: string[] = [];
      for (const d of drivers.values()) {
        const r = await d.prune(project);
        say(`${d.name}: removed ${r.removed.length} resources${r.removed.length ? `: ${r.removed.join(", ")}` : ""}`);
        failed.push(...r.failed);
      }
      if (failed.length) throw new GalleyError(`prune could not remove ${failed.length} resources:\n${failed.map((f) => `  ${f}`).join("\n")}`);
    });
}
