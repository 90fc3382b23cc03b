// Error types, after Test Kitchen's errors.rb: an expected failure of an instance is told apart from a
// problem with Galley's input or environment, so the CLI can exit with a code that says which.

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

/** A verification check saw the wrong thing. Carries what it saw. */
export class AssertionFailed extends GalleyError {}

/** Another process holds the instance. */
export class LockedError extends GalleyError {}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
