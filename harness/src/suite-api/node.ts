// A node as a verification suite sees it: the NixOS test driver's verbs, async, on top of one
// primitive (execute, which never throws on a non-zero exit). Commands go straight to the node through
// its transport; faults go through the engine (the driver acts, the runner records them).
import type { BoxAddress } from "../contracts/attach.ts";
import { describeFault, isHarmless, type FaultSpec, type NodeVerb } from "../contracts/faults.ts";
import { AssertionFailed, commandFailure, formatUnitFailure, NodeCommandFailed } from "../errors.ts";
import type { Connection, ExecOptions, ExecResult, Transport } from "../transports/transport.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { tail } from "../util/lines.ts";
import { FailFast, retry } from "../util/retry.ts";

/** Asks the engine to inject (or heal) a fault, and waits until it is done. */
export type FaultChannel = (spec: FaultSpec) => Promise<void>;

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

const DEFAULT_WAIT_MS = 90_000;

export class Node<A extends object = Record<string, any>> {
  private conn?: Promise<Connection>;
  readonly name: string;
  /** The node's address on the instance network (what its peers use). */
  readonly ip: string;

  constructor(
    private readonly address: BoxAddress,
    /** The node's merged attributes (defaults < platform < environment < suite < node < service exports). */
    readonly attributes: A,
    private readonly transport: Transport,
    private readonly faults: FaultChannel,
    private readonly log?: InstanceLog,
    /** Position in the suite's node list (what the provisioning gets as GALLEY_NODE_INDEX). */
    readonly index = 0,
  ) {
    this.name = address.name;
    this.ip = address.ip;
  }

  private connection(): Promise<Connection> {
    this.conn ??= this.transport.connect(this.address);
    return this.conn;
  }

  /** Runs a script (bash -l, errexit, pipefail); returns exit code and output. Never throws on exit ≠ 0. */
  async execute(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    const r = await (await this.connection()).exec(script, { timeoutMs: 60_000, ...options });
    this.log?.write(`${this.name} verify`, `$ ${script}\n${r.stdout}${r.stderr}exit ${r.exitCode} (${r.ms} ms)`);
    return r;
  }

  /** Runs a script that must succeed; returns its stdout. The error names node, command, exit code and output. */
  async succeed(script: string, options: ExecOptions = {}): Promise<string> {
    const r = await this.execute(script, options);
    if (r.exitCode !== 0) throw new NodeCommandFailed(commandFailure(this.name, `\`${script}\``, r));
    return r.stdout;
  }

  /** Runs a script that must fail; returns its combined output. */
  async fail(script: string, options: ExecOptions = {}): Promise<string> {
    const r = await this.execute(script, options);
    if (r.exitCode === 0) throw new NodeCommandFailed(commandFailure(this.name, `\`${script}\``, r), true);
    return r.stdout + r.stderr;
  }

  /** Retries a script until it succeeds; returns its stdout. On timeout, the error shows the last exit code and output. */
  async waitUntilSucceeds(script: string, o: WaitOptions & ExecOptions = {}): Promise<string> {
    let out = "";
    await retry(
      async () => {
        const r = await this.execute(script, o);
        if (r.exitCode !== 0) throw new AssertionFailed(`exit code ${r.exitCode}: ${tail(r.stdout + r.stderr, 8) || "(no output)"}`);
        out = r.stdout;
      },
      { what: `\`${script}\` to succeed on ${this.name}`, timeoutMs: o.timeoutMs ?? DEFAULT_WAIT_MS, intervalMs: o.intervalMs },
    );
    return out;
  }

  async waitUntilFails(script: string, o: WaitOptions & ExecOptions = {}): Promise<string> {
    let out = "";
    await retry(
      async () => {
        const r = await this.execute(script, o);
        if (r.exitCode === 0) throw new AssertionFailed(`still succeeds: ${tail(r.stdout + r.stderr, 8) || "(no output)"}`);
        out = r.stdout + r.stderr;
      },
      { what: `\`${script}\` to fail on ${this.name}`, timeoutMs: o.timeoutMs ?? DEFAULT_WAIT_MS, intervalMs: o.intervalMs },
    );
    return out;
  }

  /** Waits for a unit to be active; fails at once when it failed or is inactive with no job pending. */
  async waitForUnit(unit: string, o: WaitOptions = {}): Promise<void> {
    await retry(
      async (lastTry) => {
        const info = await this.unitInfo(unit, ["ActiveState", "SubState"]);
        if (info.ActiveState === "active") return true;
        const journal = async () => tail((await this.execute(`journalctl -u ${unit} -n 10 --no-pager`)).stdout, 10);
        const state = `${info.ActiveState}/${info.SubState}`;
        if (info.ActiveState === "failed") {
          throw new FailFast(formatUnitFailure({ node: this.name, unit, state, journalTail: await journal() }));
        }
        const jobs = await this.execute(`systemctl list-jobs --no-legend ${unit}`);
        if (info.ActiveState === "inactive" && !jobs.stdout.trim()) {
          throw new FailFast(formatUnitFailure({ node: this.name, unit, state: `${state} and no job will start it`, journalTail: await journal() }));
        }
        throw new AssertionFailed(`${unit} is ${info.ActiveState}/${info.SubState}${lastTry ? `; journal:\n${await journal()}` : ""}`);
      },
      { what: `unit ${unit} on ${this.name} to be active`, timeoutMs: o.timeoutMs ?? DEFAULT_WAIT_MS, intervalMs: o.intervalMs },
    );
  }

  async unitInfo(unit: string, properties: string[]): Promise<Record<string, string>> {
    const out = await this.succeed(`systemctl show ${unit} --property=${properties.join(",")}`);
    return Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  }

  /** Power cut (SIGKILL). */
  crash(): Promise<void> {
    return this.verb("crash");
  }
  /** Clean shutdown. */
  stop(): Promise<void> {
    return this.verb("stop");
  }
  /** Boot again and wait for systemd (a running node is left as it is). */
  start(): Promise<void> {
    return this.verb("start");
  }
  /** Cut from the instance network (the control transport still reaches it). */
  isolate(): Promise<void> {
    return this.verb("isolate");
  }
  rejoin(): Promise<void> {
    return this.verb("rejoin");
  }
  /** Freeze the whole node (every process; sockets stay open, the kernel still answers). No command reaches it until resume. */
  pause(): Promise<void> {
    return this.verb("pause");
  }
  resume(): Promise<void> {
    return this.verb("resume");
  }
  /** Freeze one unit's processes (SIGSTOP; systemd still says active). */
  pauseUnit(unit: string): Promise<void> {
    return this.fault({ kind: "pause-unit", node: this.name, unit });
  }
  resumeUnit(unit: string): Promise<void> {
    return this.fault({ kind: "resume-unit", node: this.name, unit });
  }

  private async verb(kind: NodeVerb): Promise<void> {
    // A crashed, restarted or reconnected node's old connection may be dead: the next command opens a new one.
    await this.resetAfter(this.fault({ kind, node: this.name }));
  }

  /**
   * GALLEY_HARMLESS_FAULTS=crash,stop,isolate,pause,pause-unit,partition,drop,degrade (or all) turns those
   * faults into no-ops (their undoing too). It exists to test fault suites: each must fail when its fault
   * does nothing.
   */
  private async fault(spec: FaultSpec): Promise<void> {
    if (isHarmless(spec.kind)) {
      this.log?.write(`${this.name} fault`, `${describeFault(spec)}: skipped (GALLEY_HARMLESS_FAULTS)`);
      return;
    }
    this.log?.write(`${this.name} fault`, describeFault(spec));
    await this.faults(spec);
  }

  private async resetAfter(p: Promise<void>): Promise<void> {
    await p;
    const old = this.conn;
    this.conn = undefined;
    await old?.then((c) => c.close()).catch(() => {});
  }

  async close(): Promise<void> {
    await this.resetAfter(Promise.resolve());
  }
}
