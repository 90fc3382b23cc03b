// The Ansible provisioner: ansible-playbook runs on the host against every node at once, through an
// inventory Galley writes from the instance (inventory.ts). Ansible's own verdict decides: Galley's
// callback (harness/plugins/ansible/galley_events.py) records which task changed or failed on which
// node, so the idempotence check names node and task, as Molecule does. The console gets one recap
// line per node; the instance log gets Ansible's whole output.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ActionFailed, CommandFailed, EnvironmentError } from "../../errors.ts";
import type { InstancePlan, ProvisionerPlan } from "../../plan/plan.ts";
import type { Check } from "../../util/check.ts";
import { track } from "../../util/children.ts";
import { lineSplitter, tail } from "../../util/lines.ts";
import { onPath } from "../../util/which.ts";
import { NodesFailed } from "../converge.ts";
import type { InstanceLog } from "../../util/instance-log.ts";
import type { HostProvisioner, HostRunContext } from "../provisioner.ts";
import { parseEvents, recapLine } from "./events.ts";
import { groupName, inventoryFor } from "./inventory.ts";

type AnsiblePlan = Extract<ProvisionerPlan, { name: "ansible" }>;

/** Galley's callback plugin (harness/plugins/ansible/galley_events.py): shipped beside dist/, not compiled. */
const CALLBACK_DIR = fileURLToPath(new URL("../../../plugins/ansible", import.meta.url));
const INSTALL_HINT = "install it with `apt-get install -y ansible` (Debian 12: ansible-core 2.14 with the community.docker collection), or `pip install ansible` in a virtualenv on PATH";

function ansible(plan: InstancePlan): AnsiblePlan {
  if (plan.provisioner.name !== "ansible") throw new Error(`${plan.name}: the ansible provisioner was given a ${plan.provisioner.name} plan`);
  return plan.provisioner;
}

/**
 * What the host needs for this plan, as `galley doctor` reports it and `galley setup` installs it:
 * ansible-playbook (Debian's `ansible` bundles community.docker, the docker connection),
 * ansible-galaxy for a requirements file, and the docker CLI for Ansible's docker connection.
 */
export function hostPrerequisites(plan: InstancePlan): Check[] {
  const need = (name: string, program: string, pkg: string, why: string, hint = INSTALL_HINT): Check => {
    const at = onPath(program, false);
    return at
      ? { name, status: "ok", detail: at }
      : { name, status: "missing", detail: `${program} is not on PATH (${why})`, fix: hint, apt: [pkg] };
  };
  const checks = [need("ansible", "ansible-playbook", "ansible", "the ansible provisioner runs it on this machine")];
  if (ansible(plan).requirements) checks.push(need("ansible-galaxy", "ansible-galaxy", "ansible", "provisioner.requirements is installed with it"));
  if (plan.transport.name === "docker-exec") {
    checks.push(need("docker cli", "docker", "docker.io", "Ansible's docker connection (docker-exec transport) runs it", "apt-get install -y docker.io"));
  }
  return checks;
}

/** What the host needs, said exactly, before anything runs. */
export function checkHost(plan: InstancePlan): void {
  const missing = hostPrerequisites(plan).find((c) => c.status === "missing");
  if (missing) throw new EnvironmentError(`${plan.name}: ${missing.detail}: ${missing.fix}`);
}

export class AnsibleProvisioner implements HostProvisioner {
  readonly runsOnHost = true as const;

  prerequisites(plan: InstancePlan): Check[] {
    return hostPrerequisites(plan);
  }

  async run(ctx: HostRunContext): Promise<Record<string, string[]>> {
    const { plan, log, progress } = ctx;
    const p = ansible(plan);
    checkHost(plan);
    const dir = path.join(plan.stateDir, "ansible");
    rmSync(path.join(dir, "tmp"), { recursive: true, force: true });
    mkdirSync(path.join(dir, "tmp"), { recursive: true });
    const inventory = path.join(dir, "inventory.yml");
    writeFileSync(inventory, `# Written by Galley for ${plan.name} at every converge; edits are lost.\n${stringify(inventoryFor(plan, ctx.nodes, ctx.remoteDir))}`);
    const events = path.join(dir, "events.jsonl");
    writeFileSync(events, "");
    const args = ["-i", inventory];
    if (Object.keys(p.extraVars).length) {
      const file = path.join(dir, "extra-vars.json");
      writeFileSync(file, JSON.stringify(p.extraVars, null, 2));
      args.push("-e", `@${file}`);
    }
    const env: Record<string, string> = {
      ANSIBLE_CALLBACK_PLUGINS: CALLBACK_DIR,
      ANSIBLE_CALLBACKS_ENABLED: "galley_events",
      GALLEY_ANSIBLE_EVENTS: events,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_FORCE_COLOR: "0",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      ANSIBLE_LOCAL_TEMP: path.join(dir, "tmp"),
      // The callback lives in Galley's source tree: no __pycache__ there.
      PYTHONDONTWRITEBYTECODE: "1",
    };
    if (p.requirements) {
      progress("ansible-galaxy install");
      Object.assign(env, await installRequirements(p.requirements, dir, env, p.timeoutMs, log));
    }
    const playbook = path.relative(path.dirname(p.playbook), p.playbook);
    const command = ["ansible-playbook", ...args, ...p.options, playbook];
    progress("ansible-playbook");
    // SSH master connections in a folder of their own (a socket path must stay short), closed after the run.
    const masters = plan.transport.name === "ssh" ? mkdtempSync(path.join(os.tmpdir(), "galley-ssh-")) : undefined;
    if (masters) Object.assign(env, { ANSIBLE_SSH_CONTROL_PATH_DIR: masters, ANSIBLE_SSH_CONTROL_PATH: "%(directory)s/%%C" });
    let run: Ran;
    try {
      run = await runLogged(command, { cwd: path.dirname(p.playbook), env, timeoutMs: p.timeoutMs }, log, (l) => {
        const m = /^(TASK|RUNNING HANDLER|PLAY) \[(.*)\]/.exec(l);
        if (m) progress(`ansible: ${m[2]}`);
      });
    } finally {
      if (masters) closeMasters(masters);
    }
    const result = parseEvents(readFileSync(events, "utf8"));
    for (const r of result.recaps) {
      ctx.say(`ansible ${recapLine(r)}`);
      log.write("ansible", `recap ${recapLine(r)}`);
    }
    const name = `ansible-playbook ${playbook}`;
    if (run.timedOut) throw new ActionFailed(`${name} timed out after ${Math.round(p.timeoutMs / 1000)} s (provisioner.timeout); last output:\n${tail(run.output, 15)}\n(full output: ${log.file})`);
    if (result.failures.length) {
      // One failure per node: the first task that failed there.
      const seen = new Set<string>();
      const failed = result.failures.filter((f) => !seen.has(f.host) && seen.add(f.host)).map((f) =>
        new CommandFailed({ node: f.host, command: name, exitCode: run.exitCode, step: f.task, outputTail: f.unreachable ? `unreachable: ${f.said}` : f.said }));
      if (failed.length === 1) throw failed[0];
      throw new NodesFailed(failed, log.file);
    }
    if (run.exitCode !== 0) {
      if (/connection plugin 'community\.docker\.docker' was not found/.test(run.output)) {
        throw new EnvironmentError(`${plan.name}: Ansible has no community.docker collection (its docker connection reaches the nodes over docker-exec): ${INSTALL_HINT}`);
      }
      throw new ActionFailed(`${name} failed with exit code ${run.exitCode} before any task failed on a node; last output:\n${tail(run.output, 15)}\n(full output: ${log.file})`);
    }
    const untouched = ctx.nodes.map((n) => n.node.name).filter((n) => !result.recaps.some((r) => r.host === n));
    if (untouched.length) {
      throw new ActionFailed(`${name} ran no task on ${untouched.join(", ")}: no play's hosts matched (inventory groups: all, ${groupName(plan.suite)} and the nodes' roles; see ${inventory})`);
    }
    return Object.fromEntries(ctx.nodes.map((n) => [n.node.name, result.changes[n.node.name] ?? []]));
  }
}

/**
 * Roles and collections from a requirements file, into `dir` (ansible-galaxy skips what is there).
 * Returns the search paths that put them first, before Ansible's defaults (roles/ beside the playbook
 * is always searched).
 */
export async function installRequirements(requirements: string, dir: string, env: Record<string, string>, timeoutMs: number, log: InstanceLog): Promise<Record<string, string>> {
  const roles = path.join(dir, "roles");
  const collections = path.join(dir, "collections");
  const file = readFileSync(requirements, "utf8");
  const steps: [string, string[]][] = [];
  // A plain list holds roles; a mapping may hold roles and collections.
  if (/^roles:/m.test(file) || /^-/m.test(file)) steps.push(["roles", ["ansible-galaxy", "role", "install", "-r", requirements, "-p", roles]]);
  if (/^collections:/m.test(file)) steps.push(["collections", ["ansible-galaxy", "collection", "install", "-r", requirements, "-p", collections]]);
  for (const [what, command] of steps) {
    const r = await runLogged(command, { cwd: path.dirname(requirements), env, timeoutMs }, log);
    if (r.exitCode !== 0 || r.timedOut) {
      throw new ActionFailed(`installing the ${what} of ${requirements} failed (${command.join(" ")}, exit code ${r.exitCode}); last output:\n${tail(r.output, 10)}`);
    }
  }
  return {
    ANSIBLE_ROLES_PATH: [roles, "~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles"].join(":"),
    ANSIBLE_COLLECTIONS_PATH: [collections, "~/.ansible/collections", "/usr/share/ansible/collections"].join(":"),
  };
}

/** Ends every SSH master connection ansible-playbook left in `dir`, then removes the folder. */
function closeMasters(dir: string): void {
  for (const socket of readdirSync(dir)) {
    spawnSync("ssh", ["-o", `ControlPath=${path.join(dir, socket)}`, "-O", "exit", "galley-node"], { stdio: "ignore", timeout: 10_000 });
  }
  rmSync(dir, { recursive: true, force: true });
}

interface Ran {
  exitCode: number;
  timedOut: boolean;
  output: string;
}

/** Runs a host command with its output in the instance log, line by line; kills its process group on timeout. */
function runLogged(
  command: string[],
  o: { cwd: string; env: Record<string, string>; timeoutMs: number },
  log: InstanceLog,
  onLine?: (line: string) => void,
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    log.write("ansible", `$ (cd ${o.cwd} && ${command.join(" ")})`);
    const start = Date.now();
    // Its own process group: a timeout ends ansible-playbook and every ssh or docker exec it started.
    const child = track(spawn(command[0]!, command.slice(1), { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"], detached: true }));
    let output = "";
    let timedOut = false;
    const lines = lineSplitter((l) => {
      log.write("ansible", l);
      onLine?.(l);
    });
    const take = (b: Buffer) => {
      output += b.toString();
      if (output.length > 1_000_000) output = output.slice(-500_000);
      lines.push(b.toString());
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill("SIGTERM");
      setTimeout(() => kill("SIGKILL"), 5_000).unref();
    }, o.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new EnvironmentError(`cannot run ${command[0]}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      lines.flush();
      const exitCode = code ?? (signal ? 128 : -1);
      log.write("ansible", `exit ${exitCode}${signal ? ` (${signal})` : ""} after ${Date.now() - start} ms`);
      resolve({ exitCode, timedOut, output });
    });
  });
}
