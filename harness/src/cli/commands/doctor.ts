// galley doctor: every prerequisite, with the command that fixes each missing one. galley setup: does
// those fixes where it can (apt packages, the Docker daemon, the inotify limit, a Go toolchain). The
// drivers checked are those galley.yml uses; without a galley.yml (a fresh project), the default one.
// Provisioners that run on this machine (Ansible) add what they need for the instances that use them.
import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { Driver } from "../../drivers/driver.ts";
import { EnvironmentError } from "../../errors.ts";
import { defaultDriver, driverFor, provisionerFor } from "../../instance/components.ts";
import { hostChecks } from "../../setup/host-checks.ts";
import { doctor, missing, report, setup } from "../../setup/setup.ts";
import type { Check } from "../../util/check.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

/** The drivers to check, and a note when galley.yml could not say which. */
function driversToCheck(ctx: CliContext): { drivers: Driver[]; note?: Check } {
  if (!existsSync(ctx.configFile())) return { drivers: [defaultDriver()] };
  try {
    const byName = new Map<string, Driver>();
    for (const plan of ctx.plans()) if (!byName.has(plan.driver.name)) byName.set(plan.driver.name, driverFor(plan));
    return { drivers: [...byName.values()] };
  } catch (err) {
    const problem = (err as Error).message.split("\n")[0]!;
    return { drivers: [defaultDriver()], note: { name: "galley.yml", status: "warn", detail: `${problem} (checked the default driver)`, fix: "fix the configuration, then run doctor again" } };
  }
}

/** The machine's checks, and what the provisioners galley.yml uses need on it (once per check). */
function machineChecks(ctx: CliContext): () => Check[] {
  return () => {
    const checks = hostChecks();
    if (!existsSync(ctx.configFile())) return checks;
    const seen = new Set(checks.map((c) => c.name));
    try {
      for (const plan of ctx.plans()) {
        for (const c of provisionerFor(plan).prerequisites?.(plan) ?? []) if (!seen.has(c.name) && seen.add(c.name)) checks.push(c);
      }
    } catch {
      // A configuration error is already reported by driversToCheck's note.
    }
    return checks;
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description("check every prerequisite (Docker engine, box build tools, Go, disk, inotify, ssh) and print the command that fixes each")
    .action(async () => {
      const { drivers, note } = driversToCheck(ctx);
      const checks = [...(note ? [note] : []), ...(await doctor(drivers, machineChecks(ctx)))];
      say(report(checks));
      if (missing(checks).length) throw new EnvironmentError("prerequisites missing (see above)");
    });

  program
    .command("setup")
    .description("install what doctor finds missing (as root, with apt), start the Docker daemon, raise the inotify limit, fetch a Go toolchain")
    .action(async () => {
      const { drivers, note } = driversToCheck(ctx);
      const checks = [...(note ? [note] : []), ...(await setup(drivers, machineChecks(ctx)))];
      say(report(checks));
      if (missing(checks).length) throw new EnvironmentError("setup could not provide everything (see above)");
    });
}
