// The fault runner with a fake driver that has pauses and link faults: what the state says is what the
// driver was last told (link rules compiled for every node), a failed apply leaves the state and the
// nodes as they were, heal undoes everything it recorded, a node booted again gets its rules back, and
// an interrupt undoes what is quick to undo but leaves a crashed node down; also the AfterRun the CLI
// gives every instance (evidence and report after checks and failed actions). In memory, no Docker.
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { ActionFailed } from "../../src/errors.ts";
import { timelineFile } from "../../src/instance/faults.ts";
import { Instance, type RunOutcome } from "../../src/instance/instance.ts";
import { captureStderr, check, fakeComponents, makeProject, reuseOneKeyPair, written, type Fakes, type Project } from "./fakes.ts";

describe("the fault runner with a fake driver that has pauses and link faults", function () {
  this.timeout(5_000);
  let project: Project;
  let fakes: Fakes;
  let instance: Instance;
  let stderr: ReturnType<typeof captureStderr>;
  let restoreKeys: () => void;
  const state = () => written(project.plan).state;
  const rules = (node: string) => fakes.driver.links.get(node);
  const none = { dropFrom: [], dropTo: [], shape: [] };

  before(() => (restoreKeys = reuseOneKeyPair()));
  after(() => restoreKeys());
  beforeEach(async () => {
    stderr = captureStderr();
    project = makeProject({ nodes: 3 });
    fakes = fakeComponents({ network: true });
    instance = new Instance(project.plan, fakes, (p) => ["galley", "fault", p.name]);
    await instance.transitionTo("converge");
  });
  afterEach(() => {
    stderr.restore();
    project.remove();
  });

  it("a partition is recorded and every node gets its side of it; heal empties the rules and the record", async () => {
    await instance.fault({ kind: "partition", groups: [["infra0", "infra1"], ["infra2"]] });
    expect(state().links?.map((l) => l.spec)).to.deep.equal([{ kind: "partition", groups: [["infra0", "infra1"], ["infra2"]] }]);
    expect(rules("infra0")).to.deep.equal({ dropFrom: ["10.0.0.12"], dropTo: ["10.0.0.12"], shape: [] });
    expect(rules("infra2")).to.deep.equal({ dropFrom: ["10.0.0.10", "10.0.0.11"], dropTo: ["10.0.0.10", "10.0.0.11"], shape: [] });
    await instance.fault({ kind: "heal", scope: "network" });
    expect(state().links).to.equal(undefined);
    for (const n of ["infra0", "infra1", "infra2"]) expect(rules(n), n).to.deep.equal(none);
  });

  it("a link fault one node refuses is not recorded, and the others go back to what was in effect", async () => {
    await instance.fault({ kind: "drop", from: ["infra2"], to: ["infra0"] });
    fakes.driver.failOn("links infra1");
    let err: unknown;
    try {
      await instance.fault({ kind: "partition", groups: [["infra0"], ["infra1", "infra2"]] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ActionFailed);
    expect((err as Error).message).to.match(/link faults could not be applied on 1 node\(s\):\ninfra1: fake driver: links infra1 failed/);
    expect(state().links?.map((l) => l.spec.kind)).to.deep.equal(["drop"]);
    expect(rules("infra0")).to.deep.equal({ dropFrom: ["10.0.0.12"], dropTo: [], shape: [] });
    expect(rules("infra2")).to.deep.equal({ dropFrom: [], dropTo: ["10.0.0.10"], shape: [] });
  });

  it("heal undoes what each node has: resumes, rejoins and starts, and the state says none is left", async () => {
    await instance.fault({ kind: "pause", node: "infra0" });
    await instance.fault({ kind: "isolate", node: "infra1" });
    await instance.fault({ kind: "crash", node: "infra2" });
    expect(state().faults).to.deep.equal({ infra0: ["paused"], infra1: ["isolated"], infra2: ["crashed"] });
    await instance.fault({ kind: "heal" });
    expect(state().faults).to.equal(undefined);
    expect(fakes.journal.filter((e) => /^driver\.(resume|rejoin|start) /.test(e))).to.deep.equal(["driver.resume infra0", "driver.rejoin infra1", "driver.start infra2"]);
    expect([...fakes.driver.boxes.values()].filter((b) => b.role === "node").every((b) => b.running && !b.isolated && !b.paused)).to.equal(true);
  });

  it("a node that boots again during a partition gets its side back; a node that is down is not asked", async () => {
    await instance.fault({ kind: "crash", node: "infra0" });
    fakes.journal.length = 0;
    await instance.fault({ kind: "partition", groups: [["infra0"], ["infra1", "infra2"]] });
    expect(fakes.journal.filter((e) => e.startsWith("driver.links")).map((e) => e.split(" ")[1]), "nodes asked").to.deep.equal(["infra1", "infra2"]);
    fakes.driver.links.delete("infra0"); // a new namespace: nothing in it
    await instance.fault({ kind: "start", node: "infra0" });
    expect(rules("infra0")).to.deep.equal({ dropFrom: ["10.0.0.11", "10.0.0.12"], dropTo: ["10.0.0.11", "10.0.0.12"], shape: [] });
  });

  it("an interrupt undoes link faults, pauses and isolation; a crashed node stays down, recorded", async () => {
    await instance.fault({ kind: "degrade", from: ["infra0"], to: ["infra1"], shape: { delayMs: 100 } });
    await instance.fault({ kind: "pause", node: "infra1" });
    await instance.fault({ kind: "crash", node: "infra2" });
    await instance.healOnInterrupt();
    expect(state().links).to.equal(undefined);
    expect(rules("infra0")).to.deep.equal(none);
    expect(state().faults).to.deep.equal({ infra2: ["crashed"] });
    expect(fakes.driver.boxes.get("infra1")?.paused).to.equal(false);
  });

  it("the timeline lists each fault with its time; a new cluster (create) starts it empty", async () => {
    await instance.fault({ kind: "pause", node: "infra0" });
    await instance.fault({ kind: "heal" });
    const events = readFileSync(timelineFile(project.plan.stateDir), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { label: string });
    expect(events.map((e) => e.label)).to.deep.equal(["pause infra0", "resume infra0", "heal"]);
    await instance.transitionTo("destroy");
    await instance.transitionTo("create");
    expect(existsSync(timelineFile(project.plan.stateDir)), "faults.jsonl after create").to.equal(false);
  });

  it("after checks and after a failed action the instance's AfterRun runs (evidence, report), and its lines join the failure", async () => {
    const outcomes: RunOutcome[] = [];
    instance = new Instance(project.plan, fakes, () => [], async (_inst, o) => {
      outcomes.push(o);
      return o.failed ? "evidence: .galley/unit-test/evidence/" : "report: .galley/unit-test/report.html";
    });
    await instance.transitionTo("verify");
    expect(outcomes).to.deep.equal([{ failed: false, reason: "" }]);
    expect(stderr.text()).to.include("report: .galley/unit-test/report.html");
    fakes.verifier.checks = [check("three members", "failed", { error: "expected 3 members, saw 2" })];
    let err: Error | undefined;
    await instance.transitionTo("verify").catch((e: Error) => (err = e));
    expect(outcomes[1]).to.include({ failed: true, reason: "verify failed: 1 of 1 checks failed (0 passed, 0 skipped):" });
    expect(outcomes[1]!.results?.junit).to.match(/unit-test\/junit\.xml$/);
    expect(err?.message).to.match(/expected 3 members, saw 2[^]*\(log: [^)]*galley\.log\)\nevidence: \.galley\/unit-test\/evidence\/$/);
    fakes.driver.failOn("destroy");
    await instance.transitionTo("destroy").catch(() => {});
    expect(outcomes, "a failed destroy has nothing left to collect").to.have.length(2);
  });
});
