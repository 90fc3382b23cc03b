// Services of an instance (a discovery service, an HTTP proxy): boxes beside the nodes. Set up at
// create, checked at every converge (a dead service fails the converge by name, rather than letting the
// nodes hang on it), and asked once per instance for the attributes they export (a discovery token,
// say); the runner keeps those in the state so a second converge sees the same values.
// Services are reached through the driver's control transport and asked about through the driver.
import path from "node:path";
import { flattenAttributes } from "../config/attribute-env.ts";
import type { BoxAddress } from "../contracts/attach.ts";
import type { Driver } from "../drivers/driver.ts";
import { ActionFailed, CommandFailed, commandFailure } from "../errors.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceState } from "../state/state-file.ts";
import type { Transport } from "../transports/transport.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { tail } from "../util/lines.ts";
import { retry } from "../util/retry.ts";

const REMOTE = "/var/lib/galley/service";

function environment(plan: InstancePlan, name: string): Record<string, string> {
  return {
    ...flattenAttributes(plan.attributes),
    GALLEY_INSTANCE: plan.name,
    GALLEY_SERVICE_NAME: name,
    GALLEY_NODE_COUNT: String(plan.nodes.length),
    GALLEY_NODE_NAMES: plan.nodes.map((n) => n.name).join(" "),
  };
}

export function serviceAddresses(state: InstanceState): Record<string, BoxAddress> {
  return Object.fromEntries(Object.entries(state.services ?? {}).map(([name, s]) => [name, { name, ...s }]));
}

export async function setUpServices(plan: InstancePlan, boxes: Record<string, BoxAddress>, transport: Transport, log: InstanceLog): Promise<void> {
  await Promise.all(Object.entries(plan.services).map(async ([name, spec]) => {
    const box = boxes[name];
    if (!box) throw new ActionFailed(`service ${name} of ${plan.name} was not created`);
    const conn = await transport.connect(box);
    try {
      await conn.upload(path.dirname(spec.script), REMOTE);
      const script = path.basename(spec.script);
      const r = await conn.exec(`bash ${REMOTE}/${script}`, { env: environment(plan, name) });
      log.write(`service ${name}`, `${r.stdout}${r.stderr}exit ${r.exitCode}`);
      if (r.exitCode !== 0) throw new CommandFailed(commandFailure(`${name} (service)`, script, r));
      if (spec.ready) {
        await retry(async () => {
          const c = await conn.exec(spec.ready!, { timeoutMs: 10_000 });
          if (c.exitCode !== 0) throw new Error(`\`${spec.ready}\` exit ${c.exitCode}: ${tail(c.stdout + c.stderr, 3)}`);
        }, { what: `service ${name} to be ready`, timeoutMs: 60_000 });
      }
    } finally {
      await conn.close();
    }
  }));
}

/** Fails naming every service that is not running or not ready. */
export async function checkServices(plan: InstancePlan, state: InstanceState, driver: Driver, transport: Transport): Promise<void> {
  const boxes = serviceAddresses(state);
  const problems = await Promise.all(Object.entries(plan.services).map(async ([name, spec]) => {
    const status = await driver.status(state, name);
    if (!status) return `service ${name} of ${plan.name} does not exist (run \`galley create ${plan.name}\`)`;
    if (!status.running) return `service ${name} of ${plan.name} is down (${status.description})`;
    if (spec.ready) {
      const conn = await transport.connect(boxes[name]!);
      try {
        const r = await conn.exec(spec.ready, { timeoutMs: 10_000 });
        if (r.exitCode !== 0) return `service ${name} of ${plan.name} is not ready: \`${spec.ready}\` exit ${r.exitCode}: ${tail(r.stdout + r.stderr, 3)}`;
      } finally {
        await conn.close();
      }
    }
    return undefined;
  }));
  const down = problems.filter(Boolean);
  if (down.length) throw new ActionFailed(down.join("\n"));
}

/**
 * The exported attributes: those already known (kept in the state) and, for the rest, the output of
 * their command run once in the service. Returns the whole set; the caller stores it.
 */
export async function serviceExports(plan: InstancePlan, known: Record<string, string>, boxes: Record<string, BoxAddress>, transport: Transport): Promise<Record<string, string>> {
  const exports = { ...known };
  for (const [name, spec] of Object.entries(plan.services)) {
    for (const [attr, command] of Object.entries(spec.export ?? {})) {
      if (exports[attr] !== undefined) continue;
      const conn = await transport.connect(boxes[name]!);
      try {
        const r = await conn.exec(command, { env: environment(plan, name), timeoutMs: 30_000 });
        if (r.exitCode !== 0 || !r.stdout.trim()) {
          throw new CommandFailed(commandFailure(`${name} (service)`, `exporting ${attr} with \`${command}\``, r));
        }
        exports[attr] = r.stdout.trim();
      } finally {
        await conn.close();
      }
    }
  }
  return exports;
}

/** etcd.discovery → { etcd: { discovery } } */
export function nestExports(exports: Record<string, string>): Record<string, unknown> {
  const nested: Record<string, unknown> = {};
  for (const [attr, value] of Object.entries(exports)) {
    const keys = attr.split(".");
    let at = nested;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys.at(-1)!] = value;
  }
  return nested;
}
