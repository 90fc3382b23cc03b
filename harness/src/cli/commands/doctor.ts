// galley doctor: every prerequisite, with the command that fixes each missing one. galley setup: does
// those fixes where it can (apt packages, the Docker daemon, the inotify limit, a Go toolchain).
import type { Command } from "commander";
import { EnvironmentError } from "../../errors.ts";
import { doctor, missing, report, setup } from "../../setup/setup.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

export function register(program: Command, _ctx: CliContext): void {
  program
    .command("doctor")
    .description("check every prerequisite (Docker engine, box build tools, Go, disk, inotify, ssh) and print the command that fixes each")
    .action(async () => {
      const checks = await doctor();
      say(report(checks));
      if (missing(checks).length) throw new EnvironmentError("prerequisites missing (see above)");
    });

  program
    .command("setup")
    .description("install what doctor finds missing (as root, with apt), start the Docker daemon, raise the inotify limit, fetch a Go toolchain")
    .action(async () => {
      const checks = await setup();
      say(report(checks));
      if (missing(checks).length) throw new EnvironmentError("setup could not provide everything (see above)");
    });
}
