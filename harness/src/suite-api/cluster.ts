// What a verification suite gets: the instance's nodes with their addresses and attributes, read from
// the one file the engine writes for it (.galley/<instance>/attach.json). No config is loaded and no
// instance re-planned: `attach()` works the same in `galley verify` and in a plain
// `GALLEY_INSTANCE=… npx mocha suites/…` run against a converged instance.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { attachPath, type AttachedArtifact, type AttachFile, type FaultReply, type FaultRequest } from "../contracts/attach.ts";
import { describeFault, type FaultSpec } from "../contracts/faults.ts";
import { UserError } from "../errors.ts";
import { transportFor } from "../transports/index.ts";
import { InstanceLog } from "../util/instance-log.ts";
import { prng, seedOf } from "../util/prng.ts";
import { Faults } from "./faults.ts";
import { Node, type FaultChannel } from "./node.ts";

export interface AttachOptions<A extends object> {
  /** The instance (default: GALLEY_INSTANCE, or the one `galley verify` runs). */
  instance?: string;
  /** How to find the leader, for faults aimed at the `leader` role (and `cluster.leader()`). */
  leader?: (cluster: Cluster<A>) => Promise<Node<A>>;
}

export class Cluster<A extends object = Record<string, any>> {
  /** Faults between nodes and on roles: partition, drop, degrade, heal, pause… (see Faults). */
  readonly faults: Faults<Node<A>>;

  constructor(
    private readonly file: AttachFile,
    readonly nodes: Node<A>[],
    readonly services: Node[] = [],
    channel: FaultChannel = async () => {},
    private readonly findLeader?: (cluster: Cluster<A>) => Promise<Node<A>>,
    log?: InstanceLog,
  ) {
    const seed = process.env.GALLEY_SEED ? Number(process.env.GALLEY_SEED) : seedOf(file.instance);
    this.faults = new Faults<Node<A>>(nodes, channel, prng(seed), findLeader && (() => findLeader(this)), log);
  }

  /** The leader, as the function given to useCluster({ leader }) finds it. */
  async leader(): Promise<Node<A>> {
    if (!this.findLeader) throw new UserError("cluster.leader() needs a way to find the leader: useCluster({ leader: async (cluster) => node })");
    return this.findLeader(this);
  }

  /** The instance's name (`static-debian-12`). */
  get name(): string {
    return this.file.instance;
  }
  /** The instance's attributes (defaults < platform < environment < suite), service exports included. */
  get attributes(): A {
    return this.file.attributes as A;
  }
  /** What the instance's services exported (dotted path → value), e.g. `etcd.discovery`. */
  get exports(): Record<string, string> {
    return this.file.exports;
  }
  /** The artifacts the instance configured, with the concrete version each was built or fetched at. */
  get artifacts(): Record<string, AttachedArtifact> {
    return this.file.artifacts;
  }
  /** The driver's name and the fault verbs it offers. */
  get driver(): AttachFile["driver"] {
    return this.file.driver;
  }

  node(name: string): Node<A> {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new UserError(`no node ${name} in ${this.name} (nodes: ${this.nodes.map((x) => x.name).join(", ")})`);
    return n;
  }

  /** A service box of the instance (a discovery service, a proxy). */
  service(name: string): Node {
    const n = this.services.find((x) => x.name === name);
    if (!n) throw new UserError(`no service ${name} in ${this.name} (services: ${this.services.map((x) => x.name).join(", ") || "none"})`);
    return n;
  }

  nodeByIp(ip: string): Node<A> {
    const n = this.nodes.find((x) => x.ip === ip);
    if (!n) throw new UserError(`no node of ${this.name} has address ${ip} (${this.nodes.map((x) => `${x.name}=${x.ip}`).join(", ")})`);
    return n;
  }

  /** Any node but the given one. */
  other(than: Node<A>): Node<A> {
    const n = this.nodes.find((x) => x !== than);
    if (!n) throw new UserError(`${this.name} has a single node; no other node to use`);
    return n;
  }

  /** Runs fn on every node in parallel; a failure names each node that failed. */
  async each<T>(fn: (n: Node<A>) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(this.nodes.map(fn));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${this.nodes[i]!.name}: ${(r.reason as Error).message}`] : []));
    if (failed.length) throw new Error(failed.join("\n"));
    return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes, ...this.services].map((n) => n.close()));
  }
}

/**
 * Where the attach file is: GALLEY_ATTACH (set by `galley verify`), else .galley/<GALLEY_INSTANCE>/ under
 * the current folder (or under the folder of GALLEY_CONFIG).
 */
export function findAttachFile(instance = process.env.GALLEY_INSTANCE): string {
  if (process.env.GALLEY_ATTACH) return process.env.GALLEY_ATTACH;
  const root = process.env.GALLEY_CONFIG ? path.dirname(path.resolve(process.env.GALLEY_CONFIG)) : process.cwd();
  if (!instance) throw new UserError("set GALLEY_INSTANCE to the instance to check (or run the suite with `galley verify`)");
  return attachPath(path.join(root, ".galley", instance));
}

export function readAttachFile(file: string): AttachFile {
  if (!existsSync(file)) throw new UserError(`${file} does not exist: the instance is not created (run \`galley converge ${path.basename(path.dirname(file))}\`)`);
  const parsed = JSON.parse(readFileSync(file, "utf8")) as AttachFile;
  if (parsed.format !== 1) throw new UserError(`${file}: unknown attach file format ${String(parsed.format)} (written by another Galley version?)`);
  return parsed;
}

/** Attaches to an instance: its nodes and services, ready to run commands on. */
export async function attach<A extends object = Record<string, any>>(options?: string | AttachOptions<A>): Promise<Cluster<A>> {
  const o: AttachOptions<A> = typeof options === "string" ? { instance: options } : options ?? {};
  const file = findAttachFile(o.instance);
  const a = readAttachFile(file);
  const faults = faultChannel(a);
  const { nodes, services, log } = connectBoxes<A>(a, path.dirname(file), faults);
  return new Cluster<A>(a, nodes, services, faults, o.leader, log);
}

/**
 * An attach file's nodes and services, reached through its transports; faults through `faults` (by
 * default the engine running the suite, or `galley fault`; the programmatic API passes its own engine).
 */
export function connectBoxes<A extends object = Record<string, any>>(a: AttachFile, stateDir: string, faults: FaultChannel = faultChannel(a)): { nodes: Node<A>[]; services: Node[]; log: InstanceLog } {
  const log = new InstanceLog(stateDir);
  const transport = transportFor(a.transport);
  const control = transportFor(a.controlTransport);
  const nodes = a.nodes.map((n) => new Node<A>(n, n.attributes as A, transport, faults, log, n.index));
  // Services are reached through the driver's control transport whatever the nodes' transport is.
  const services = a.services.map((s) => new Node(s, {}, control, faults, log));
  return { nodes, services, log };
}

/**
 * Faults go to the engine that runs this suite (over the IPC channel `galley verify` opens), or, in a
 * plain mocha run, through `galley fault`. Either way the driver acts and the runner records it.
 */
function faultChannel(a: AttachFile): FaultChannel {
  return async (spec: FaultSpec) => {
    if (!a.driver.faults.includes(spec.kind)) {
      throw new UserError(`the ${a.driver.name} driver of ${a.instance} cannot ${describeFault(spec)} (its faults: ${a.driver.faults.join(", ") || "none"}): this check needs a driver with that fault`);
    }
    if (process.send && process.env.GALLEY_ATTACH) return viaEngine(spec);
    const [cmd, ...args] = a.faultCommand;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cmd!, [...args, "--spec", JSON.stringify(spec)], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (b) => (err += b));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`galley fault ${describeFault(spec)} failed (exit ${code}): ${err.trim()}`))));
    });
  };
}

let nextId = 0;
const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

function viaEngine(spec: FaultSpec): Promise<void> {
  if (!waiting.size) process.on("message", onReply);
  const id = ++nextId;
  return new Promise<void>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    process.send!({ galleyFault: { ...spec, id } } satisfies FaultRequest);
  });
}

function onReply(m: FaultReply): void {
  const r = m?.galleyFaultReply;
  const w = r && waiting.get(r.id);
  if (!w) return;
  waiting.delete(r.id);
  if (!waiting.size) process.off("message", onReply);
  if (r.error) w.reject(new Error(r.error));
  else w.resolve();
}
