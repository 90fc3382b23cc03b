// `galley/register`: prepares a node process to run a project's verification suites with Galley's own
// modules, wherever the project is: TypeScript specs through Galley's tsx, and `galley/verifier` (and
// any bare import the project lacks, such as chai) from Galley's installation. ES modules go through
// resolve-hooks.ts; CommonJS (a .ts spec in a project without "type": "module" is compiled to it) through
// the same two rules on require(). The verify child imports it first; outside Galley:
// `mocha --require galley/register --timeout 3m 'spec/*.spec.ts'`.
import Module, { register } from "node:module";
import { fileURLToPath } from "node:url";
import { ownModule, runningFromSources } from "../../util/own-modules.ts";

// From Galley's TypeScript sources a TypeScript loader already runs; installed, Galley brings its own.
if (!runningFromSources(import.meta.url)) {
  const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  cjs.register();
  esm.register();
}

const verifier = ownModule("../../suite-api/index.ts", import.meta.url);
register(ownModule("./resolve-hooks.ts", import.meta.url), { data: { verifier: verifier.href, galley: import.meta.url } });

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
const resolveFilename = cjs._resolveFilename;
const BARE = /^(?![./]|[a-z][a-z0-9+.-]*:)/i;
cjs._resolveFilename = function (request, parent, isMain, options) {
  if (request === "galley/verifier") return fileURLToPath(verifier);
  try {
    return resolveFilename.call(this, request, parent, isMain, options);
  } catch (err) {
    if (!BARE.test(request) || (err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
    try {
      return fileURLToPath(import.meta.resolve(request));
    } catch {
      throw err;
    }
  }
};
