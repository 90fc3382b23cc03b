// `galley doctor` and `galley setup`: every prerequisite checked, and what is missing installed where
// Galley can (as root, with apt on Debian and Ubuntu), the Docker daemon started, the inotify limit
// raised, and a new enough Go fetched through the module proxy. Anything it cannot do it says, with
// the command that would.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dockerChecks } from "../drivers/docker/doctor.ts";
import { INOTIFY_WANTED } from "../drivers/docker/host-limits.ts";
import { startDockerEngine } from "../drivers/docker/start.ts";
import { EnvironmentError } from "../errors.ts";
import { goCandidates, goProxies, installGoToolchain } from "../toolchains/go.ts";
import { cacheDir } from "../util/cache.ts";
import { track } from "../util/children.ts";
import { tail } from "../util/lines.ts";
import { task } from "../util/ui.ts";
import { onPath } from "../util/which.ts";
import { formatCheck, type Check } from "./check.ts";
import { hostChecks } from "./host-checks.ts";

export async function doctor(): Promise<Check[]> {
  mkdirSync(cacheDir(), { recursive: true });
  goCandidates(true);
  return [...(await dockerChecks()), ...hostChecks()];
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
export async function setup(): Promise<Check[]> {
  const before = await doctor();
  const todo = before.filter((c) => c.status !== "ok");
  const packages = [...new Set(todo.flatMap((c) => c.apt ?? []))].sort();
  const actions = new Set(todo.flatMap((c) => (c.action ? [c.action] : [])));
  const asRoot = [...(packages.length ? [`install ${packages.join(" ")}`] : []), ...(actions.has("start-docker") ? ["start the Docker daemon"] : []), ...(actions.has("raise-inotify") ? ["raise fs.inotify.max_user_instances"] : [])];
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
  if (actions.has("start-docker")) await task("start the Docker daemon", (progress) => startDockerEngine(progress));
  if (actions.has("raise-inotify")) {
    await task(`raise fs.inotify.max_user_instances to ${INOTIFY_WANTED}`, async () => {
      writeFileSync("/proc/sys/fs/inotify/max_user_instances", `${INOTIFY_WANTED}\n`);
      mkdirSync("/etc/sysctl.d", { recursive: true });
      writeFileSync("/etc/sysctl.d/60-galley-inotify.conf", `# galley setup: every systemd node takes about 8 inotify instances\nfs.inotify.max_user_instances = ${INOTIFY_WANTED}\n`);
    });
  }
  if (actions.has("go-toolchain")) {
    goCandidates(true); // a Go apt just installed tells which module proxy to use
    await task("fetch a Go toolchain through the module proxy (once; cached)", (progress) => installGoToolchain(goProxies(), progress));
  }
  return doctor();
}
