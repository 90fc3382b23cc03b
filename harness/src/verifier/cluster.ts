// What a verification suite gets: the instance's nodes with their addresses and attributes, loaded from
// the same config and state files the CLI uses. `attach()` works in `galley verify` and in a plain
// `GALLEY_INSTANCE=… npx mocha suites/…` run alike.
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import { UserError } from "../errors.ts";
import { componentsFor } from "../instance/components.ts";
import { planMatrix } from "../matrix/plan.ts";
import { planInstances, type InstancePlan } from "../plan/plan.ts";
import { readState, type InstanceState } from "../state/state-file.ts";
import { DockerExecTransport } from "../transports/docker-exec.ts";
import { InstanceLog } from "../util/instance-log.ts";
import { Node } from "./node.ts";

export class Cluster {
  constructor(
    readonly plan: InstancePlan,
    readonly state: InstanceState,
    readonly nodes: Node[],
    readonly services: Node[] = [],
  ) {}

  get name(): string {
    return this.plan.name;
  }
  get attributes(): Record<string, unknown> {
    return this.plan.attributes;
  }

  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new UserError(`no node ${name} in ${this.name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`);
    return n;
  }

  /** A service container of the instance (a discovery service, a proxy). */
  service(name: string): Node {
    const n = this.services.find((x) => x.name === name);
    if (!n) throw new UserError(`no service ${name} in ${this.name} (services: ${this.services.map((x) => x.name).join(", ") || "none"})`);
    return n;
  }

  nodeByIp(ip: string): Node {
    const n = this.nodes.find((x) => x.ip === ip);
    if (!n) throw new UserError(`no node of ${this.name} has address ${ip} (${this.nodes.map((x) => `${x.name}=${x.ip}`).join(", ")})`);
    return n;
  }

  /** Any node but the given one. */
  other(than: Node): Node {
    const n = this.nodes.find((x) => x !== than);
    if (!n) throw new UserError(`${this.name} has a single node; no other node to use`);
    return n;
  }

  /** Runs fn on every node in parallel; a failure names each node that failed. */
  async each<T>(fn: (n: Node) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(this.nodes.map(fn));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${this.nodes[i]!.name}: ${(r.reason as Error).message}`] : []));
    if (failed.length) throw new Error(failed.join("\n"));
    return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes, ...this.services].map((n) => n.close()));
  }
}

export async function attach(instance = process.env.GALLEY_INSTANCE, configFile = process.env.GALLEY_CONFIG): Promise<Cluster> {
  const loaded = loadConfig(resolveConfigPath(configFile));
  const plans = [...planInstances(loaded), ...(loaded.config.matrix ? planMatrix(loaded).map((c) => c.plan) : [])];
  if (!instance) {
    if (plans.length !== 1) throw new UserError(`set GALLEY_INSTANCE to one of: ${plans.map((p) => p.name).join(", ")}`);
    instance = plans[0]!.name;
  }
  const plan = plans.find((p) => p.name === instance);
  if (!plan) throw new UserError(`unknown instance ${instance} (instances: ${plans.map((p) => p.name).join(", ")})`);
  const state = readState(plan.stateDir, plan.name);
  if (!Object.keys(state.nodes).length) throw new UserError(`instance ${instance} has no nodes: run \`galley converge ${instance}\` first`);
  const { transport, driver } = componentsFor(plan);
  const log = new InstanceLog(plan.stateDir);
  const nodes = plan.nodes.map((n) =>
    new Node(n.name, state.nodes[n.name]!.ip, n.attributes, state, transport, driver.faults, log, n.index, plan.driver.bootTimeoutMs));
  // Services are reached with docker exec whatever the nodes' transport: they have no SSH key.
  const services = Object.entries(state.services ?? {}).map(([name, s]) =>
    new Node(name, s.ip, {}, state, new DockerExecTransport(plan.transport.commandTimeoutMs), driver.faults, log));
  return new Cluster(plan, state, nodes, services);
}
