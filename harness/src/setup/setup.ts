// `galley doctor` and `galley setup`: every prerequisite checked, and what is missing installed where
// Galley can (as root, with apt on Debian and Ubuntu), the Docker daemon started, the inotify limit
// raised, and a new enough Go fetched through the module proxy. Anything it cannot do it says, with
// the command that would.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import type { Driver } from "../drivers/driver.ts";
import { EnvironmentError } from "../errors.ts";
import { goCandidates, goProxies, installGoToolchain } from "../toolchains/go.ts";
import { cacheDir } from "../util/cache.ts";
import { formatCheck, type Check } from "../util/check.ts";
import { track } from "../util/children.ts";
import { tail } from "../util/lines.ts";
import { task } from "../util/ui.ts";
import { onPath } from "../util/which.ts";
import { hostChecks } from "./host-checks.ts";

/** A check and the driver that reported it (the one that does its action), if any. */
interface Reported {
  check: Check;
  driver?: Driver;
}

/** The machine's own checks (box build tools, Go, cache disk, ssh); tests give their own. */
type MachineChecks = () => Check[];

async function reported(drivers: Driver[], machine: MachineChecks): Promise<Reported[]> {
  mkdirSync(cacheDir(), { recursive: true });
  goCandidates(true);
  const fromDrivers: Reported[] = [];
  for (const driver of drivers) for (const check of (await driver.prerequisites?.()) ?? []) fromDrivers.push({ check, driver });
  return [...fromDrivers, ...machine().map((check) => ({ check }))];
}

/** Every prerequisite: the drivers' (the engine they boot boxes with) and the machine's. */
export async function doctor(drivers: Driver[], machine: MachineChecks = hostChecks): Promise<Check[]> {
  return (await reported(drivers, machine)).map((r) => r.check);
}

export const missing = (checks: Check[]) => checks.filter((c) => c.status === "missing");

/** The lines doctor prints, and the verdict. */
export function report(checks: Check[]): string {
  const bad = missing(checks);
  const verdict = bad.length
    ? `${bad.length} missing: ${bad.map((c) => c.name).join(", ")} (\`sudo npx galley setup\` installs what it can)`
    : "ready: every prerequisite is there";
  return [...checks.map(formatCheck), "", verdict].join("\n");
}

function run(cmd: string, args: string[], progress: (t: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }));
    let out = "";
    const each = (b: Buffer) => {
      out += b;
      const last = b.toString().trim().split("\n").pop();
      if (last) progress(last.slice(0, 70));
    };
    child.stdout.on("data", each);
    child.stderr.on("data", each);
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new EnvironmentError(`\`${cmd} ${args.join(" ")}\` failed (exit ${code}):\n${tail(out, 12)}`))));
  });
}

/** Does what the checks say setup can do; returns the checks after it. */
export async function setup(drivers: Driver[], machine: MachineChecks = hostChecks): Promise<Check[]> {
  const todoReported = (await reported(drivers, machine)).filter((r) => r.check.status !== "ok");
  const todo = todoReported.map((r) => r.check);
  const packages = [...new Set(todo.flatMap((c) => c.apt ?? []))].sort();
  const driverActions = todoReported.flatMap((r) => (r.check.action && r.driver?.provide ? [{ action: r.check.action, does: r.check.does ?? r.check.action, driver: r.driver }] : []));
  const actions = new Set(todo.flatMap((c) => (c.action ? [c.action] : [])));
  const asRoot = [...(packages.length ? [`install ${packages.join(" ")}`] : []), ...driverActions.map((a) => a.does)];
  if (asRoot.length && process.getuid?.() !== 0) {
    throw new EnvironmentError(`galley setup needs root to ${asRoot.join(", ")}: run \`sudo npx galley setup\`, or do it yourself:\n${todo.filter((c) => c.fix).map((c) => `  ${c.name}: ${c.fix}`).join("\n")}`);
  }
  if (packages.length) {
    if (!onPath("apt-get")) {
      throw new EnvironmentError(`galley setup installs packages with apt (Debian, Ubuntu), and this machine has no apt-get. Install the equivalents of: ${packages.join(" ")}`);
    }
    await task(`install ${packages.join(" ")} (apt)`, async (progress) => {
      await run("apt-get", ["update", "-qq"], progress);
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], progress);
    });
  }
  // In the order the checks came: the engine is started before anything asks it.
  for (const { action, does, driver } of driverActions) await task(does, (progress) => driver.provide!(action, progress));
  if (actions.has("go-toolchain")) {
    goCandidates(true); // a Go apt just installed tells which module proxy to use
    await task("fetch a Go toolchain through the module proxy (once; cached)", (progress) => installGoToolchain(goProxies(), progress));
  }
  return doctor(drivers, machine);
}
