// Module resolution hooks for the process that runs a project's specs (registered by register.ts, run
// on node's loader thread). `galley/verifier` always means the Galley that runs the specs, wherever the
// project is and whichever Galley it has installed, so a spec and the runner share one module. A bare
// import the project cannot resolve itself (chai, mocha: Galley's dependencies) resolves from Galley's
// installation instead of failing; what the project has installed always wins.

interface HookData {
  /** URL of Galley's suite API module (src/suite-api/index.ts or dist/suite-api/index.js). */
  verifier: string;
  /** A URL inside Galley's installation: bare imports resolve from here when the project cannot. */
  galley: string;
}

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<{ url: string; format?: string | null }>;

let data: HookData | undefined;

export async function initialize(d: HookData): Promise<void> {
  data = d;
}

const BARE = /^(?![./]|[a-z][a-z0-9+.-]*:)/i;

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve) {
  if (!data) return next(specifier, context);
  // Through the rest of the chain (not short-circuited), so tsx still loads a .ts target.
  if (specifier === "galley/verifier") return next(data.verifier, context);
  try {
    return await next(specifier, context);
  } catch (err) {
    if (!BARE.test(specifier) || (err as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw err;
    return next(specifier, { ...context, parentURL: data.galley });
  }
}
