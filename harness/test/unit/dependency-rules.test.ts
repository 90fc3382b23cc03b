// The dependency rules (.dependency-cruiser.cjs + harness/tools/check-dependencies.ts) fail on what they
// forbid: the same check, with the same config, runs on two small trees laid out like the repo
// (dep-fixtures/forbidden: one forbidden import per rule and one cycle between rooms; dep-fixtures/allowed:
// every import the rules permit) and must report exactly the forbidden imports, by file.
import { expect } from "chai";
import { createRequire } from "node:module";
import path from "node:path";
import {
  ALLOWED_CROSSINGS,
  CONFIG_FILE,
  checkDependencies,
  folderCycles,
  formatViolation,
  roomOf,
  type Import,
  type Violation,
} from "../../tools/check-dependencies.ts";

const fixtures = path.join(import.meta.dirname, "dep-fixtures");
const ruleNames = (createRequire(import.meta.url)(CONFIG_FILE) as { forbidden: { name: string }[] }).forbidden.map((r) => r.name);
const notStale = (vs: Violation[]) => vs.filter((v) => v.rule !== "stale-allowed-crossing");
/** `../../../../../node_modules/dockerode/…` → `node_modules/dockerode/…`: wherever npm put the package. */
const packagesFromRoot = (vs: Violation[]) => vs.map((v) => ("to" in v ? { ...v, to: v.to.replace(/^(\.\.\/)+node_modules\//, "node_modules/") } : v));
const staleDebts = ALLOWED_CROSSINGS.filter((a) => a.debt).map((a) => ({ rule: "stale-allowed-crossing", from: a.from, to: a.to }));

describe("dependency rules", () => {
  let forbidden: Violation[];
  let allowed: Violation[];
  before(async () => {
    [forbidden, allowed] = await Promise.all([checkDependencies(path.join(fixtures, "forbidden")), checkDependencies(path.join(fixtures, "allowed"))]);
  });

  it("report each forbidden import with its rule and files, and nothing else", () => {
    expect(packagesFromRoot(notStale(forbidden))).to.deep.equal([
      { rule: "contracts-are-a-leaf", from: "harness/src/contracts/attach.ts", to: "harness/src/errors.ts" },
      { rule: "docker-only-in-drivers-docker", from: "harness/src/cli/commands/prune.ts", to: "node_modules/dockerode/lib/docker.js" },
      { rule: "docker-only-in-drivers-docker", from: "harness/src/services/services.ts", to: "harness/src/drivers/docker/box.ts" },
      { rule: "drivers-and-transports-reach-provisioners-through-the-interface", from: "harness/src/transports/ssh.ts", to: "harness/src/provisioners/shell.ts" },
      { rule: "engine-not-into-suites-fixtures-tests", from: "harness/src/cli/main.ts", to: "harness/test/helper.ts" },
      { rule: "engine-not-into-suites-fixtures-tests", from: "harness/src/cli/main.ts", to: "suites/lib/parse.ts" },
      { rule: "engine-not-into-suites-fixtures-tests", from: "harness/src/matrix/run.ts", to: "fixtures/lib/steps.ts" },
      { rule: "errors-is-a-leaf", from: "harness/src/errors.ts", to: "harness/src/util/lines.ts" },
      { rule: "no-unresolvable-imports", from: "harness/src/suite-api/probe.ts", to: "./missing.ts" },
      { rule: "plugins-not-into-cli-matrix-instance", from: "harness/src/provisioners/shell.ts", to: "harness/src/matrix/run.ts" },
      { rule: "provisioners-reach-drivers-and-transports-through-interfaces", from: "harness/src/provisioners/converge.ts", to: "harness/src/drivers/vagrant/driver.ts" },
      { rule: "suite-api-not-into-the-engine", from: "harness/src/suite-api/cluster.ts", to: "harness/src/config/load.ts" },
      { rule: "suites-only-through-galley-verifier", from: "suites/fleet/01-members.spec.ts", to: "harness/src/suite-api/index.ts" },
      { rule: "transports-reach-drivers-only-for-the-docker-client", from: "harness/src/transports/ssh.ts", to: "harness/src/drivers/driver.ts" },
      { rule: "util-is-a-leaf", from: "harness/src/util/ui.ts", to: "harness/src/config/load.ts" },
      {
        rule: "no-folder-cycles",
        rooms: ["instance", "verifiers"],
        cycles: [["instance", "verifiers", "instance"]],
        imports: [
          { from: "harness/src/instance/instance.ts", to: "harness/src/verifiers/mocha/runner.ts" },
          { from: "harness/src/verifiers/verifier.ts", to: "harness/src/instance/fsm.ts" },
        ],
      },
    ]);
  });

  it("prove every rule of the config in the forbidden tree", () => {
    const seen = new Set(forbidden.map((v) => v.rule));
    expect(ruleNames.filter((name) => !seen.has(name)), "rules without a forbidden import in dep-fixtures/forbidden").to.deep.equal([]);
  });

  it("allow what the rooms permit (interfaces, drivers → transports, the Docker client exception, util → errors.ts, subfolders)", () => {
    // Only the known-debt allowances are reported, because this tree does not have those imports.
    expect(allowed).to.deep.equal(staleDebts);
  });

  it("name the files of a cycle in the message", () => {
    const cycle = forbidden.find((v) => v.rule === "no-folder-cycles")!;
    expect(formatViolation(cycle)).to.equal(
      "no-folder-cycles: instance, verifiers import each other (2 imports between them), e.g.\n" +
        "    instance → verifiers → instance:\n" +
        "        harness/src/instance/instance.ts → harness/src/verifiers/mocha/runner.ts\n" +
        "        harness/src/verifiers/verifier.ts → harness/src/instance/fsm.ts",
    );
  });
});

describe("folder cycles", () => {
  const imp = (from: string, to: string): Import => ({ from: `harness/src/${from}`, to: `harness/src/${to}` });
  const cycles = (imports: Import[], allowed = ALLOWED_CROSSINGS) => notStale(folderCycles(imports, allowed));

  it("are between top-level rooms: subfolders belong to their room, errors.ts is a room", () => {
    expect(roomOf("harness/src/drivers/docker/box.ts")).to.equal("drivers");
    expect(roomOf("harness/src/errors.ts")).to.equal("errors.ts");
    expect(roomOf("suites/lib/etcd.ts")).to.equal(undefined);
    expect(cycles([imp("drivers/docker/driver.ts", "drivers/driver.ts"), imp("drivers/driver.ts", "drivers/docker/box.ts")])).to.deep.equal([]);
    expect(cycles([imp("errors.ts", "util/lines.ts"), imp("util/retry.ts", "errors.ts")]).map((v) => "rooms" in v && v.rooms)).to.deep.equal([["errors.ts", "util"]]);
  });

  it("list the shortest cycles first", () => {
    const [v] = cycles([imp("a/x.ts", "b/x.ts"), imp("b/x.ts", "a/x.ts"), imp("b/y.ts", "c/x.ts"), imp("c/x.ts", "a/y.ts")]);
    expect(v).to.deep.include({ rooms: ["a", "b", "c"], cycles: [["a", "b", "a"], ["a", "b", "c", "a"]] });
  });

  it("leave out an allowed crossing, and only that import", () => {
    const allow = [{ from: "harness/src/transports/docker-exec.ts", to: "harness/src/drivers/docker/client.ts", why: "test" }];
    const driverUsesTransport = imp("drivers/docker/driver.ts", "transports/docker-exec.ts");
    expect(cycles([driverUsesTransport, imp("transports/docker-exec.ts", "drivers/docker/client.ts")], allow)).to.deep.equal([]);
    expect(cycles([driverUsesTransport, imp("transports/docker-exec.ts", "drivers/docker/box.ts")], allow)).to.have.length(1);
    expect(cycles([driverUsesTransport, imp("transports/ssh.ts", "drivers/docker/client.ts")], allow)).to.have.length(1);
  });

  it("report an allowed crossing that no longer exists, so the list cannot outlive what it excuses", () => {
    const allow = [{ from: "harness/src/config/load.ts", to: "harness/src/matrix/columns.ts", why: "test" }];
    expect(folderCycles([imp("matrix/plan.ts", "config/load.ts")], allow)).to.deep.equal([
      { rule: "stale-allowed-crossing", from: "harness/src/config/load.ts", to: "harness/src/matrix/columns.ts" },
    ]);
  });
});
