// Services of an instance (a discovery service, an HTTP proxy): box containers beside the nodes. Set
// up at create, checked at every converge (a dead service fails the converge by name, rather than
// letting the nodes hang on it), and asked once per instance for the attributes they export (a
// discovery token, say), which are kept in the state so a second converge sees the same values.
import path from "node:path";
import { ActionFailed } from "../errors.ts";
import { docker } from "../drivers/docker/client.ts";
import type { InstancePlan } from "../plan/plan.ts";
import { flattenAttributes } from "../provisioners/shell.ts";
import type { InstanceState } from "../state/state-file.ts";
import { DockerExecTransport } from "../transports/docker-exec.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { tail } from "../util/lines.ts";
import { retry } from "../verifier/retry.ts";

const REMOTE = "/var/lib/galley/service";
const transport = new DockerExecTransport(300_000);

function environment(plan: InstancePlan, name: string): Record<string, string> {
  return {
    ...flattenAttributes(plan.attributes),
    GALLEY_INSTANCE: plan.name,
    GALLEY_SERVICE_NAME: name,
    GALLEY_NODE_COUNT: String(plan.nodes.length),
    GALLEY_NODE_NAMES: plan.nodes.map((n) => n.name).join(" "),
  };
}

export async function setUpServices(plan: InstancePlan, state: InstanceState, log: InstanceLog): Promise<void> {
  await Promise.all(Object.entries(plan.services).map(async ([name, spec]) => {
    const conn = await transport.connect(name, state);
    await conn.upload(path.dirname(spec.script), REMOTE);
    const r = await conn.exec(`bash ${REMOTE}/${path.basename(spec.script)}`, { env: environment(plan, name) });
    log.write(`service ${name}`, `${r.stdout}${r.stderr}exit ${r.exitCode}`);
    if (r.exitCode !== 0) {
      throw new ActionFailed(`service ${name}: ${path.basename(spec.script)} failed (exit ${r.exitCode}):\n${tail(r.stdout + r.stderr, 12)}`);
    }
    if (spec.ready) {
      await retry(async () => {
        const c = await conn.exec(spec.ready!, { timeoutMs: 10_000 });
        if (c.exitCode !== 0) throw new Error(`\`${spec.ready}\` exit ${c.exitCode}: ${tail(c.stdout + c.stderr, 3)}`);
      }, { what: `service ${name} to be ready`, timeoutMs: 60_000 });
    }
  }));
}

/** Fails naming every service that is not running or not ready. */
export async function checkServices(plan: InstancePlan, state: InstanceState): Promise<void> {
  const d = await docker();
  const problems = await Promise.all(Object.entries(plan.services).map(async ([name, spec]) => {
    const id = state.services?.[name]?.container;
    if (!id) return `service ${name} of ${plan.name} does not exist (run \`galley create ${plan.name}\`)`;
    const info = await d.getContainer(id).inspect().catch(() => undefined);
    if (!info) return `service ${name} of ${plan.name} is gone (its container ${id.slice(0, 12)} was removed)`;
    if (!info.State.Running) return `service ${name} of ${plan.name} is down (container ${info.Name.slice(1)} ${info.State.Status}, exit code ${info.State.ExitCode})`;
    if (spec.ready) {
      const r = await (await transport.connect(name, state)).exec(spec.ready, { timeoutMs: 10_000 });
      if (r.exitCode !== 0) return `service ${name} of ${plan.name} is not ready: \`${spec.ready}\` exit ${r.exitCode}: ${tail(r.stdout + r.stderr, 3)}`;
    }
    return undefined;
  }));
  const down = problems.filter(Boolean);
  if (down.length) throw new ActionFailed(down.join("\n"));
}

/** The exported attributes, computed on first need and then kept in the state. */
export async function serviceExports(plan: InstancePlan, state: InstanceState): Promise<Record<string, unknown>> {
  state.exports ??= {};
  for (const [name, spec] of Object.entries(plan.services)) {
    for (const [attr, command] of Object.entries(spec.export ?? {})) {
      if (state.exports[attr] !== undefined) continue;
      const r = await (await transport.connect(name, state)).exec(command, { env: environment(plan, name), timeoutMs: 30_000 });
      if (r.exitCode !== 0 || !r.stdout.trim()) {
        throw new ActionFailed(`service ${name}: exporting ${attr} with \`${command}\` failed (exit ${r.exitCode}): ${tail(r.stdout + r.stderr, 5)}`);
      }
      state.exports[attr] = r.stdout.trim();
    }
  }
  // etcd.discovery → { etcd: { discovery } }
  const nested: Record<string, unknown> = {};
  for (const [attr, value] of Object.entries(state.exports)) {
    const keys = attr.split(".");
    let at = nested;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys.at(-1)!] = value;
  }
  return nested;
}
