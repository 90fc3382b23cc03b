// `galley/register`: prepares a node process to run a project's verification suites with Galley's own
// modules, wherever the project is: TypeScript specs through Galley's tsx, and `galley/verifier` (and
// any bare import the project lacks, such as chai) from Galley's installation (see resolve-hooks.ts).
// The verify child imports it first; outside Galley: `mocha --import galley/register 'spec/*.spec.ts'`
// (or `--node-option import=galley/register`).
import { register } from "node:module";
import { ownModule, runningFromSources } from "../../util/own-modules.ts";

// From Galley's TypeScript sources a TypeScript loader already runs; installed, Galley brings its own.
// Both module systems: in a CommonJS project tsx compiles a .ts spec to CommonJS.
if (!runningFromSources(import.meta.url)) {
  const [esm, cjs] = await Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]);
  cjs.register();
  esm.register();
}

register(ownModule("./resolve-hooks.ts", import.meta.url), {
  data: { verifier: ownModule("../../suite-api/index.ts", import.meta.url).href, galley: import.meta.url },
});
