// galley snapshot / galley restore: save every box of a created instance with its volumes, and remake
// the boxes from that snapshot later (seconds, against a converge's minute), through the driver; the
// state records which snapshots exist, when, and of which converge.
//
//   galley snapshot INSTANCE [NAME]     (default name: converged, the one verify's isolate_destructive uses)
//   galley restore INSTANCE [NAME]
import type { Command } from "commander";
import { AFTER_CONVERGE } from "../../instance/snapshots.ts";
import type { CliContext } from "../context.ts";
import { commandLine } from "../context.ts";

export function register(program: Command, ctx: CliContext): void {
  program
    .command("snapshot")
    .description(`save every box of a created instance and its volumes as snapshot NAME (default ${AFTER_CONVERGE})`)
    .argument("<instance>", "instance name")
    .argument("[name]", "snapshot name", AFTER_CONVERGE)
    .action(async (instance: string, name: string) => {
      const inst = await ctx.created(instance).open(commandLine());
      try {
        await inst.snapshot(name);
      } finally {
        await inst.close();
      }
    });
  program
    .command("restore")
    .description(`remake every box of an instance from snapshot NAME (default ${AFTER_CONVERGE}): the cluster as it was then`)
    .argument("<instance>", "instance name")
    .argument("[name]", "snapshot name", AFTER_CONVERGE)
    .action(async (instance: string, name: string) => {
      const inst = await ctx.created(instance).open(commandLine());
      try {
        await inst.restore(name);
      } finally {
        await inst.close();
      }
    });
}
