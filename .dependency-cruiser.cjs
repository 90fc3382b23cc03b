// The rules that keep Galley's rooms apart (issue 9): which folder of the engine may import which.
// `npm run lint:deps` (part of `npm test`) checks them with harness/tools/check-dependencies.ts, which
// also finds import cycles between the engine's top-level folders (dependency-cruiser's own `circular`
// is per file, and its folder scope treats drivers/docker as a room of its own, so that check is a
// script; its exceptions are listed there). `npx depcruise harness/src suites` runs these rules alone.
// Paths are relative to the repository root (or to the fixture tree the unit test cruises).

const ENGINE = "^harness/src/";
const PLUGINS = "^harness/src/(drivers|transports|provisioners)/";

module.exports = {
  forbidden: [
    {
      name: "engine-not-into-suites-fixtures-tests",
      comment: "The engine knows nothing of the suites, the fixtures, its tests or its benchmark.",
      severity: "error",
      from: { path: ENGINE },
      to: { path: "^(suites|fixtures|harness/test|harness/bench)/" },
    },
    {
      name: "plugins-not-into-cli-matrix-instance",
      comment: "Drivers, transports and provisioners are plugins: the runner (instance/), the CLI and the matrix use them, never the other way round.",
      severity: "error",
      from: { path: PLUGINS },
      to: { path: "^harness/src/(cli|matrix|instance)/" },
    },
    {
      name: "transports-reach-drivers-only-for-the-docker-client",
      comment: "The one documented exception between plugins: a transport may use the Docker client (docker exec), nothing else of a driver.",
      severity: "error",
      from: { path: "^harness/src/transports/" },
      to: { path: "^harness/src/drivers/", pathNot: "^harness/src/drivers/docker/client[.]ts$" },
    },
    {
      name: "provisioners-reach-drivers-and-transports-through-interfaces",
      comment: "A provisioner sees a driver and a transport only through driver.ts and transport.ts.",
      severity: "error",
      from: { path: "^harness/src/provisioners/" },
      to: { path: "^harness/src/(drivers|transports)/", pathNot: "^harness/src/(drivers/driver|transports/transport)[.]ts$" },
    },
    {
      name: "drivers-and-transports-reach-provisioners-through-the-interface",
      comment: "Drivers and transports see provisioners, if at all, only through provisioner.ts. (Drivers may use transports/ for their control channel.)",
      severity: "error",
      from: { path: "^harness/src/(drivers|transports)/" },
      to: { path: "^harness/src/provisioners/", pathNot: "^harness/src/provisioners/provisioner[.]ts$" },
    },
    {
      name: "docker-only-in-drivers-docker",
      comment: "Docker code lives in drivers/docker/; the rest of the engine reaches it through the Driver interface. Only the composition root (instance/components.ts) names the Docker driver, and the docker-exec transport (with its session shell) uses its client.",
      severity: "error",
      from: { path: ENGINE, pathNot: "^harness/src/(drivers/docker/|instance/components[.]ts$|transports/docker-(exec|session)[.]ts$)" },
      to: { path: "^harness/src/drivers/docker/|(^|/)node_modules/(@types/)?dockerode/" },
    },
    {
      name: "suite-api-not-into-the-engine",
      comment: "The suite API (galley/verifier) reads attach.json and talks to nodes through transports; it never loads the config, plans, state, drivers, the runner, the CLI or the matrix.",
      severity: "error",
      from: { path: "^harness/src/suite-api/" },
      to: { path: "^harness/src/(drivers|instance|config|plan|state|cli|matrix)/" },
    },
    {
      name: "suites-only-through-galley-verifier",
      comment: 'Suites import Galley as `galley/verifier` (the workspace package), never by a relative path into harness/.',
      severity: "error",
      from: { path: "^suites/" },
      to: { path: "^harness/", dependencyTypesNot: ["aliased-workspace"] },
    },
    {
      name: "contracts-are-a-leaf",
      comment: "contracts/ is data shared by the engine and the suite API: it imports nothing else of the engine.",
      severity: "error",
      from: { path: "^harness/src/contracts/" },
      to: { path: ENGINE, pathNot: "^harness/src/contracts/" },
    },
    {
      name: "errors-is-a-leaf",
      comment: "errors.ts is the bottom of the engine: everything may throw its errors, so it imports nothing of the engine.",
      severity: "error",
      from: { path: "^harness/src/errors[.]ts$" },
      to: { path: ENGINE },
    },
    {
      name: "util-is-a-leaf",
      comment: "util/ holds helpers below every room: it imports nothing of the engine but errors.ts.",
      severity: "error",
      from: { path: "^harness/src/util/" },
      to: { path: ENGINE, pathNot: "^harness/src/(util/|errors[.]ts$)" },
    },
    {
      name: "no-unresolvable-imports",
      comment: "An import the checker cannot resolve is one no rule can see: fix the import (or the resolver options below).",
      severity: "error",
      from: { path: "^(harness/src|suites)/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript 7 (the native compiler) has no JavaScript API, and dependency-cruiser's `tsc` parser
    // needs one (it accepts typescript <7); swc parses TypeScript, type-only imports included.
    parser: "swc",
    doNotFollow: { path: "(^|/)node_modules/" },
    // Resolve `galley/verifier` through the workspace link and the package's "exports" field, to the
    // TypeScript source (the "galley-source" condition), as tsx does in this repository.
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["galley-source", "import", "require", "node", "default"],
    },
    skipAnalysisNotInRules: true,
  },
};
