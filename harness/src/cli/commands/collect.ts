// galley collect INSTANCE: the evidence bundle on demand (.galley/<instance>/evidence/<node>/: journal,
// failed units, provisioning log, network state and faults, the box's description), and report.html.
import type { Command } from "commander";
import { collectEvidence } from "../../evidence/bundle.ts";
import { writeReport } from "../../report/write.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

export function register(program: Command, ctx: CliContext): void {
  program
    .command("collect <instance>")
    .description("write the evidence bundle (.galley/<instance>/evidence/<node>/) and report.html, whatever state the nodes are in")
    .action(async (instance: string) => {
      const inst = await ctx.created(instance).open();
      try {
        const bundle = await collectEvidence(inst, "galley collect");
        for (const [node, r] of Object.entries(bundle.nodes)) {
          say(`${ctx.relative(bundle.dir)}/${node}/: ${r.files.join(", ")}`);
          for (const m of r.missing) say(`  not collected: ${m}`);
        }
        say(`report: ${ctx.relative(await writeReport(inst))}`);
      } finally {
        await inst.close();
      }
    });
}
