// In-memory plugins for unit tests of the runner, converge and services: no Docker, no network, no
// waiting. Each fake records what it was asked into one journal shared by all of them (so a test can
// check the order across plugins) and can be told to fail a chosen call. The provisioner is the real
// ShellProvisioner: it only computes strings, so there is nothing to fake.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { parseConfig } from "../../src/config/load.ts";
import type { BoxAddress, FaultKind } from "../../src/contracts/attach.ts";
import type { NodeVerb } from "../../src/contracts/faults.ts";
import type { BoxStatus, CreateContext, Driver, LinkRules, NodeFaults, PruneReport, Snapshots } from "../../src/drivers/driver.ts";
import { ActionFailed, TransportFailed } from "../../src/errors.ts";
import type { Components } from "../../src/instance/components.ts";
import { planInstances, type InstancePlan } from "../../src/plan/plan.ts";
import { ShellProvisioner } from "../../src/provisioners/shell.ts";
import type { InstanceState, NodeState } from "../../src/state/state-file.ts";
import type { Connection, ExecOptions, ExecResult, Transport } from "../../src/transports/transport.ts";
import { countBySuite, type CheckResult, type VerifyReport } from "../../src/verifiers/results.ts";
import type { Verifier, VerifyContext } from "../../src/verifiers/verifier.ts";

/** Every call the fakes saw, in order: "driver.create", "infra0$ <script>", "verifier.verify", … */
export type Journal = string[];

/** Errors to throw from chosen calls, each a given number of times (once by default). */
class Failures {
  private planned = new Map<string, { error: Error; times: number }>();
  add(call: string, error: Error, times: number): void {
    this.planned.set(call, { error, times });
  }
  check(call: string): void {
    const f = this.planned.get(call);
    if (!f) return;
    if (--f.times <= 0) this.planned.delete(call);
    throw f.error;
  }
}

export interface FakeBox {
  role: "node" | "service";
  running: boolean;
  isolated: boolean;
  paused?: boolean;
}

/**
 * Boxes in a Map. `create` boots services, then nodes, in plan order, reporting facts after each one;
 * `failOn("create infra1")` fails the create after infra0 exists, `failOn("create")` before any box.
 * Other call names: "destroy", "status", and each fault verb.
 */
export class FakeDriver implements Driver {
  readonly controlTransport = "docker-exec" as const;
  readonly boxes = new Map<string, FakeBox>();
  readonly faults?: NodeFaults;
  readonly name: string;
  private failures = new Failures();
  private pauses = new Map<string, () => Promise<void>>();
  /** With `network`: the link rules each node has now (what the last apply said). */
  readonly links = new Map<string, LinkRules>();

  constructor(readonly journal: Journal = [], { faults = true, name = "fake", network = false } = {}) {
    this.name = name;
    if (faults) {
      const act = (kind: FaultKind, change: Partial<FakeBox>) => async (_state: InstanceState, node: string) => {
        this.journal.push(`driver.${kind} ${node}`);
        this.failures.check(kind);
        const box = this.boxes.get(node);
        if (!box) throw new ActionFailed(`fake driver: no box ${node}`);
        Object.assign(box, change);
      };
      this.faults = {
        crash: act("crash", { running: false }),
        stop: act("stop", { running: false }),
        start: act("start", { running: true }),
        isolate: act("isolate", { isolated: true }),
        rejoin: act("rejoin", { isolated: false }),
        ...(network ? {
          pause: act("pause", { paused: true }),
          resume: act("resume", { paused: false }),
          network: {
            apply: async (_state: InstanceState, node: string, rules: LinkRules) => {
              this.journal.push(`driver.links ${node} drop-from:${rules.dropFrom.join(",")} drop-to:${rules.dropTo.join(",")} shape:${rules.shape.map((s) => s.to).join(",")}`);
              this.failures.check(`links ${node}`);
              this.links.set(node, rules);
            },
            describe: async (_state: InstanceState, node: string) => JSON.stringify(this.links.get(node) ?? {}),
          },
        } : {}),
      };
    }
  }

  failOn(call: string, error: Error = new ActionFailed(`fake driver: ${call} failed`), times = 1): this {
    this.failures.add(call, error, times);
    return this;
  }

  async create(plan: InstancePlan, ctx: CreateContext): Promise<void> {
    this.journal.push("driver.create");
    this.failures.check("create");
    const nodes: Record<string, NodeState> = {};
    const services: Record<string, NodeState> = {};
    ctx.record({ session: "fake-session", network: { id: "net-1", name: `fake-${plan.name}` }, volumes: [] });
    const boot = async (name: string, role: FakeBox["role"], ip: string, into: Record<string, NodeState>) => {
      await this.pauses.get(`create ${name}`)?.();
      this.failures.check(`create ${name}`);
      this.boxes.set(name, { role, running: true, isolated: false });
      into[name] = { hostname: name, ip, container: `fake-${plan.name}-${name}` };
      ctx.record({ nodes, services });
    };
    for (const [i, name] of Object.keys(plan.services).entries()) await boot(name, "service", `10.0.0.${100 + i}`, services);
    for (const n of plan.nodes) await boot(n.name, "node", `10.0.0.${10 + n.index}`, nodes);
  }

  /**
   * Holds a call ("create infra1": before that box is made) until `release()`; `reached` resolves when
   * the call arrives, so a test can act in the middle of an action (interrupt it, say).
   */
  pauseAt(call: string): { reached: Promise<void>; release(): void } {
    let reached!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((r) => (reached = r));
    const until = new Promise<void>((r) => (release = r));
    this.pauses.set(call, () => {
      reached();
      return until;
    });
    return { reached: arrived, release };
  }

  /** Snapshots journal "driver.snapshot NAME" / "driver.restore NAME"; a restore remakes every box (new container ids). */
  readonly snapshots: Snapshots = {
    take: async (_plan, _state, name) => {
      this.journal.push(`driver.snapshot ${name}`);
      this.failures.check(`snapshot ${name}`);
    },
    restore: async (_plan, state, name, ctx) => {
      this.journal.push(`driver.restore ${name}`);
      this.failures.check(`restore ${name}`);
      const nodes = Object.fromEntries(Object.entries(state.nodes).map(([n, b]) => [n, { ...b, container: `${b.container}-restored` }]));
      for (const n of Object.keys(nodes)) this.boxes.set(n, { role: "node", running: true, isolated: false });
      ctx.record({ nodes });
    },
  };

  async destroy(_plan: InstancePlan, _state: InstanceState): Promise<void> {
    this.journal.push("driver.destroy");
    this.failures.check("destroy");
    this.boxes.clear();
  }

  async prune(): Promise<PruneReport> {
    const removed = [...this.boxes.keys()].map((b) => `box ${b}`);
    this.boxes.clear();
    return { removed, failed: [] };
  }

  async status(_state: InstanceState, box: string): Promise<BoxStatus | undefined> {
    this.failures.check("status");
    const b = this.boxes.get(box);
    if (!b) return undefined;
    return { running: b.running, description: `box ${box} ${b.running ? "running" : "exited, exit code 137"}` };
  }
}

export interface ExecCall {
  node: string;
  script: string;
  env: Record<string, string>;
  timeoutMs?: number;
}

export interface Upload {
  node: string;
  localDir: string;
  remoteDir: string;
  /** The local folder's files when it was uploaded (relative paths, sorted). */
  files: string[];
}

type Scripted = Partial<ExecResult> | ((call: ExecCall) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

interface Rule {
  node?: string;
  match: RegExp | string;
  result: Scripted;
  once: boolean;
}

/**
 * Scripted command results per node and command pattern (a substring or a RegExp); the rule added
 * last wins, and a command no rule matches exits 0 with no output. Records every exec and upload,
 * and counts open connections (a test can check that every connection was closed).
 */
export class FakeTransport implements Transport {
  readonly execs: ExecCall[] = [];
  readonly uploads: Upload[] = [];
  open = 0;
  private rules: Rule[] = [];
  private unreachable = new Set<string>();

  constructor(readonly journal: Journal = [], readonly name = "fake") {}

  /** `on("provision.sh", { exitCode: 2, stdout: "--- 40-etcd\n" }, { node: "infra1", once: true })` */
  on(match: RegExp | string, result: Scripted, { node, once = false }: { node?: string; once?: boolean } = {}): this {
    this.rules.push({ node, match, result, once });
    return this;
  }

  /** connect() to this box throws TransportFailed, as a transport does when a box cannot be reached. */
  cutOff(box: string): this {
    this.unreachable.add(box);
    return this;
  }

  /** The execs on a node (or every node) whose script matches. */
  ran(match: RegExp | string, node?: string): ExecCall[] {
    return this.execs.filter((e) => (!node || e.node === node) && matches(match, e.script));
  }

  async connect(box: BoxAddress): Promise<Connection> {
    if (this.unreachable.has(box.name)) throw new TransportFailed(`fake transport: ${box.name} cannot be reached`);
    this.open++;
    let closed = false;
    return {
      exec: async (script: string, o: ExecOptions = {}) => {
        if (closed) throw new TransportFailed(`fake transport: exec on a closed connection to ${box.name}`);
        const call: ExecCall = { node: box.name, script, env: { ...o.env }, timeoutMs: o.timeoutMs };
        this.execs.push(call);
        this.journal.push(`${box.name}$ ${script}`);
        const rule = [...this.rules].reverse().find((r) => (!r.node || r.node === box.name) && matches(r.match, script));
        if (rule?.once) this.rules.splice(this.rules.indexOf(rule), 1);
        const scripted = typeof rule?.result === "function" ? await rule.result(call) : rule?.result;
        const r: ExecResult = { exitCode: 0, stdout: "", stderr: "", ms: 1, ...scripted };
        if (r.stdout) o.onOutput?.(r.stdout, "stdout");
        if (r.stderr) o.onOutput?.(r.stderr, "stderr");
        return r;
      },
      upload: async (localDir: string, remoteDir: string) => {
        this.uploads.push({ node: box.name, localDir, remoteDir, files: listFiles(localDir) });
        this.journal.push(`${box.name} upload ${remoteDir}`);
      },
      close: async () => {
        if (!closed) this.open--;
        closed = true;
      },
    };
  }

  loginCommand(box: BoxAddress): string[] {
    return ["fake-login", box.name];
  }
}

function matches(match: RegExp | string, script: string): boolean {
  return typeof match === "string" ? script.includes(match) : match.test(script);
}

function listFiles(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]))
    .sort();
}

/** A check result, as the verifier reports it. */
export function check(title: string, state: CheckResult["state"] = "passed", more: Partial<CheckResult> = {}): CheckResult {
  return { title, suite: "fake suite", test: title, state, ms: 1, ...more };
}

/**
 * Returns the checks it was given (for every verify, or one list per verify in turn). Before that it
 * reads the attach file (what a real suite would read) and asks for the faults it was told to, through
 * the runner, as a fault suite does.
 */
export class FakeVerifier implements Verifier {
  readonly name = "fake";
  /** The attach file as it was when each verify began. */
  readonly attachSeen: unknown[] = [];
  faults: [node: string, kind: NodeVerb][] = [];
  error?: Error;
  /** Runs at the start of each verify (a test arranges what happens next). */
  onVerify?: (ctx: VerifyContext) => void | Promise<void>;
  /** Suites the report says were destructive (they changed the cluster). */
  destructive?: string[];

  constructor(readonly journal: Journal = [], public checks: CheckResult[] = [check("the cluster works")]) {}

  async verify(ctx: VerifyContext): Promise<VerifyReport> {
    this.journal.push("verifier.verify");
    this.attachSeen.push(JSON.parse(readFileSync(ctx.attachFile, "utf8")));
    await this.onVerify?.(ctx);
    for (const [node, kind] of this.faults) await ctx.fault({ kind, node });
    if (this.error) throw this.error;
    return { instance: ctx.plan.name, suites: countBySuite(this.checks), checks: this.checks, ...(this.destructive ? { destructive: this.destructive } : {}) };
  }
}

export interface Fakes extends Components {
  journal: Journal;
  driver: FakeDriver;
  transport: FakeTransport;
  controlTransport: FakeTransport;
  verifier: FakeVerifier;
}

/**
 * The lifecycle steps in a journal: "create", "destroy", "verify", and "converge <node>" for each
 * node's provisioning run (the rest — uploads, setup commands — left out).
 */
export function phases(journal: Journal): string[] {
  return journal.flatMap((e) => {
    if (e === "driver.create") return ["create"];
    if (e === "driver.destroy") return ["destroy"];
    if (e === "verifier.verify") return ["verify"];
    const run = /^(\S+)\$ : > \/var\/lib\/galley\/changes && bash /.exec(e);
    return run ? [`converge ${run[1]}`] : [];
  });
}

/** One set of fakes sharing a journal. */
export function fakeComponents({ faults = true, network = false } = {}): Fakes {
  const journal: Journal = [];
  return {
    journal,
    driver: new FakeDriver(journal, { faults, network }),
    transport: new FakeTransport(journal),
    controlTransport: new FakeTransport(journal, "fake-control"),
    provisioner: new ShellProvisioner(),
    verifier: new FakeVerifier(journal),
  };
}

export interface ProjectOptions {
  /** More verifier keys (isolate_destructive, restore_ready). */
  verifier?: Record<string, unknown>;
  /** A number (infra0…) or names with node attributes. */
  nodes?: number | { name: string; attributes?: Record<string, unknown> }[];
  attributes?: Record<string, unknown>;
  clusterScript?: boolean;
  /** Services as galley.yml writes them; `script` is created in the project. */
  services?: Record<string, { script: string; ready?: string; export?: Record<string, string> }>;
  /** name → folder: artifacts with `source: path`. */
  artifacts?: Record<string, string>;
}

export interface Project {
  root: string;
  plan: InstancePlan;
  remove(): void;
}

/**
 * A project in a temporary folder, planned by the real config loader: a provisioning folder, a box
 * folder with box.yml, a suites folder, service scripts. The plan's state lives in its .galley/.
 */
export function makeProject(o: ProjectOptions = {}): Project {
  const root = mkdtempSync(path.join(os.tmpdir(), "galley-fakes-"));
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  };
  write("provision/provision.sh", "echo provisioning\n");
  if (o.clusterScript) write("provision/cluster.sh", "echo cluster\n");
  write("boxes/test/box.yml", "name: test\n");
  write("suites/works.spec.ts", "// never run: the verifier is a fake\n");
  for (const s of Object.values(o.services ?? {})) write(s.script, "echo service\n");
  const config = {
    driver: "docker",
    provisioner: { name: "shell", path: "provision", ...(o.clusterScript ? { cluster_script: "cluster.sh" } : {}) },
    verifier: { name: "mocha", suites: "suites", ...o.verifier },
    attributes: o.attributes ?? {},
    artifacts: Object.fromEntries(Object.entries(o.artifacts ?? {}).map(([name, dir]) => [name, { source: "path", path: dir }])),
    services: o.services ?? {},
    platforms: [{ name: "test", box: "boxes/test" }],
    suites: [{ name: "unit", nodes: o.nodes ?? 1 }],
  };
  const file = path.join(root, "galley.yml");
  // JSON is YAML: the real loader parses and checks it.
  writeFileSync(file, JSON.stringify(config, null, 2));
  const plan = planInstances(parseConfig(readFileSync(file, "utf8"), file))[0]!;
  return { root, plan, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** The instance's state.json and attach.json as written (undefined when absent). */
export function written(plan: InstancePlan): { state: InstanceState; attach?: Record<string, any> } {
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(path.join(plan.stateDir, f), "utf8"));
    } catch {
      return undefined;
    }
  };
  return { state: read("state.json"), attach: read("attach.json") };
}

/** Captures what the engine prints on stderr (task lines, "kept for inspection") while `fn` runs. */
export function captureStderr(): { text(): string; restore(): void } {
  const chunks: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  return { text: () => chunks.join(""), restore: () => void (process.stderr.write = original) };
}

let onePair: unknown;
/**
 * Every instance's SSH key pair is the same real one, made once per process: a 2048-bit RSA key takes
 * 100-300 ms to make, and each create after a destroy makes one. Returns the undo.
 */
export function reuseOneKeyPair(): () => void {
  const utils = ssh2.utils as { generateKeyPairSync: (...args: unknown[]) => unknown };
  const original = utils.generateKeyPairSync;
  utils.generateKeyPairSync = (...args) => (onePair ??= original.apply(ssh2.utils, args));
  return () => void (utils.generateKeyPairSync = original);
}
