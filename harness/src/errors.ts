// Error types, after Test Kitchen's errors.rb: an expected failure of an instance is told apart from a
// problem with Galley's input or environment, so the CLI can exit with a code that says which. Failures
// on a node are data (node, command, exit code, output tail), formatted in one place, so the matrix and
// the reports read fields instead of parsing messages. It is the bottom of the engine (everything throws
// these), so it imports nothing of it (.dependency-cruiser.cjs: errors-is-a-leaf).

export class GalleyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: configuration, names, arguments. The message names the file, key or node. */
export class UserError extends GalleyError {}

/** The environment cannot do what is asked (no Docker daemon, a tool missing). Says how to fix it. */
export class EnvironmentError extends GalleyError {}

/** A command could not be run on a node at all (not: the command ran and exited non-zero). */
export class TransportFailed extends GalleyError {}

/** A lifecycle action (create, converge, verify, destroy) failed in an expected way. */
export class ActionFailed extends GalleyError {}

/** A command ran on a node and failed: the fields say where, what, how, and what it last printed. */
export interface CommandFailure {
  node: string;
  /** What was run: a script's name, or the command line. */
  command: string;
  exitCode: number;
  /** The last lines it printed (stdout and stderr). */
  outputTail: string;
  /** Set when the exit code is a timeout's (124). */
  timeoutMs?: number;
  /** The step of the provisioning it failed in, when the provisioning says ("40-etcd"). */
  step?: string;
  /** Units its output names that are not active on the node, with their state and last journal lines. */
  units?: UnitFailure[];
}

export class CommandFailed extends ActionFailed {
  constructor(readonly failure: CommandFailure, options?: { cause?: unknown }) {
    super(formatCommandFailure(failure), options);
  }
}

/** A node did not finish booting, or booted with failed units. */
export interface BootFailure {
  node: string;
  /** systemd's state at the end ("degraded"), or "timeout". */
  status: string;
  timeoutMs: number;
  /** Failed units with their last journal lines. */
  units: string;
}

export class BootFailed extends ActionFailed {
  constructor(readonly failure: BootFailure) {
    super(formatBootFailure(failure));
  }
}

/** A systemd unit failed on a node (a service the provisioning or a check depends on). */
export interface UnitFailure {
  node: string;
  unit: string;
  /** ActiveState/SubState. */
  state: string;
  journalTail: string;
}

export class UnitFailed extends ActionFailed {
  constructor(readonly failure: UnitFailure) {
    super(formatUnitFailure(failure));
  }
}

/** The one formatter for a failed command: "node infra1: provision.sh failed with exit code 2 (step 40-etcd); last output: …". */
export function formatCommandFailure(f: CommandFailure): string {
  const why = f.exitCode === 124 && f.timeoutMs ? `timed out after ${Math.round(f.timeoutMs / 1000)} s` : `failed with exit code ${f.exitCode}`;
  const units = (f.units ?? []).map((u) => `\n${formatUnitFailure(u)}`).join("");
  return `node ${f.node}: ${f.command} ${why}${f.step ? ` (step ${f.step})` : ""}; last output:\n${f.outputTail || "(none)"}${units}`;
}

export function formatBootFailure(f: BootFailure): string {
  const why = f.status === "timeout" ? `did not finish booting within ${Math.round(f.timeoutMs / 1000)} s` : `booted ${f.status}`;
  return `node ${f.node}: systemd ${why}. Failed units:\n${f.units || "(none listed)"}`;
}

export function formatUnitFailure(f: UnitFailure): string {
  return `unit ${f.unit} on ${f.node} is ${f.state}; last journal lines:\n${f.journalTail || "(none)"}`;
}

/** The failure of a command result, as data. */
export function commandFailure(node: string, command: string, r: { exitCode: number; stdout: string; stderr: string }, extra: Partial<CommandFailure> = {}): CommandFailure {
  return { node, command, exitCode: r.exitCode, outputTail: lastLines(`${r.stdout}\n${r.stderr}`, 15), ...extra };
}

/** The last `n` non-empty lines (util/lines.ts's `tail`, which this leaf may not import). */
function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").filter((l) => l.trim()).slice(-n).join("\n");
}

/** An instance failed an action; wraps the ActionFailed with the instance name and its log file. */
export class InstanceFailure extends GalleyError {
  constructor(
    readonly instance: string,
    readonly action: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Verification checks failed; `failed` holds their titles, for one-line summaries (galley list). */
export class ChecksFailed extends ActionFailed {
  constructor(message: string, readonly failed: string[]) {
    super(message);
  }
}

/**
 * One line saying what went wrong, for `galley list`: which check failed, or which node, command and
 * step with the last line it printed; otherwise the message's first line.
 */
export function summaryOf(err: unknown): string {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ChecksFailed && e.failed.length) return `check failed: ${e.failed[0]}${e.failed.length > 1 ? ` (and ${e.failed.length - 1} more)` : ""}`;
  }
  const f = failureOf(err);
  if (f && "command" in f) {
    const last = f.outputTail.split("\n").map((l) => l.trim()).filter(Boolean).at(-1);
    return `node ${f.node}: ${f.command} failed (exit ${f.exitCode}${f.step ? `, step ${f.step}` : ""})${last ? `: ${last}` : ""}`;
  }
  return messageOf(err).split("\n")[0]!;
}

/** A verification check saw the wrong thing. Carries what it saw. */
export class AssertionFailed extends GalleyError {}

/** A check's command failed on a node (`node.succeed`), or succeeded where it had to fail (`node.fail`). */
export class NodeCommandFailed extends AssertionFailed {
  constructor(readonly failure: CommandFailure, expectedToFail = false) {
    super(expectedToFail
      ? `node ${failure.node}: ${failure.command} succeeded but was expected to fail; output:\n${failure.outputTail || "(none)"}`
      : formatCommandFailure(failure));
  }
}

/** Another process holds the instance. */
export class LockedError extends GalleyError {}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The innermost data failure behind an error (through `cause` and aggregated failures), if any. */
export function failureOf(err: unknown): CommandFailure | BootFailure | UnitFailure | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof CommandFailed || e instanceof NodeCommandFailed || e instanceof BootFailed || e instanceof UnitFailed) return e.failure;
    const inner = (e as { failures?: unknown[] }).failures?.map(failureOf).find(Boolean);
    if (inner) return inner;
  }
  return undefined;
}
