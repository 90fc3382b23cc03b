// Chaos schedules: the same seed gives the same schedule, one fault at a time, each undone, all healed
// at the end; a schedule read back names only the instance's nodes.
import { expect } from "chai";
import { makeSchedule, parseChaosFaults, readSchedule } from "../../src/chaos/schedule.ts";
import { renderReport } from "../../src/report/html.ts";
import { junit } from "../../src/verifiers/junit.ts";

const nodes = ["infra0", "infra1", "infra2"];
const options = { durationMs: 120_000, faults: parseChaosFaults("partition,degrade,pause,crash"), nodes, leader: true };

describe("chaos schedule", () => {
  it("is the same for the same seed, and differs for another", () => {
    const a = makeSchedule({ seed: 42, ...options });
    expect(makeSchedule({ seed: 42, ...options })).to.deep.equal(a);
    expect(makeSchedule({ seed: 43, ...options }).steps).to.not.deep.equal(a.steps);
    expect(JSON.parse(JSON.stringify(a))).to.deep.equal(a);
  });
  it("holds one fault at a time, undoes each, ends with heal, stays within the duration", () => {
    const s = makeSchedule({ seed: 7, ...options });
    const kinds = new Set(s.steps.map((x) => x.spec.kind));
    expect(s.steps.length, "steps in 2 minutes").to.be.above(10);
    for (const k of ["partition", "degrade", "pause", "crash"]) expect(kinds.has(k as never), `${k} in the schedule`).to.equal(true);
    for (let i = 0; i + 1 < s.steps.length - 1; i += 2) {
      expect(s.steps[i + 1]!.undoes, `step ${i + 1} undoes ${i}`).to.equal(i);
      expect(s.steps[i + 1]!.at).to.be.above(s.steps[i]!.at);
      if (i + 2 < s.steps.length) expect(s.steps[i + 2]!.at, "next fault after the undo").to.be.above(s.steps[i + 1]!.at);
    }
    expect(s.steps.at(-1)).to.deep.equal({ at: 120_000, spec: { kind: "heal", scope: "all" } });
  });
  it("names what is wrong with its input", () => {
    expect(() => parseChaosFaults("partition,flood")).to.throw(/--faults takes a list of partition, drop, degrade, pause, crash, not flood/);
    expect(() => makeSchedule({ seed: 1, ...options, durationMs: 5000 })).to.throw(/at least 10s/);
    const s = makeSchedule({ seed: 1, ...options });
    expect(() => readSchedule({ schedule: s }, ["infra0", "infra1"], "old.json")).to.throw(/old.json: the schedule names infra2, which this instance does not have/);
    expect(readSchedule({ schedule: s }, nodes, "chaos.json")).to.deep.equal(s);
  });
});

describe("JUnit attachments and the report page", () => {
  it("a failed check carries the evidence as [[ATTACHMENT|…]] lines; a passed one does not", () => {
    const xml = junit({ instance: "i", suites: [{ suite: "s", passed: 1, failed: 1, skipped: 0 }], checks: [
      { title: "s a", suite: "s", test: "a", state: "passed", ms: 1 },
      { title: "s b", suite: "s", test: "b", state: "failed", ms: 1, error: "boom" },
    ] }, ["/x/evidence/infra0/journal.txt"]);
    expect(xml).to.match(/name="b" time="0.001"><failure message="boom">boom<\/failure><system-out>\[\[ATTACHMENT\|\/x\/evidence\/infra0\/journal.txt\]\]<\/system-out>/);
    expect(xml.match(/ATTACHMENT/g)).to.have.length(1);
  });
  it("draws a fault window per node it touched and a red mark per failure, messages escaped", () => {
    const html = renderReport({
      instance: "i", title: "t", from: 0, to: 10_000, nodes: ["a", "b"], notes: [],
      windows: [{ label: "partition a | b", kind: "partition", nodes: ["a", "b"], from: 1000, to: 4000, open: false }],
      marks: [{ row: "a", at: 2000, ok: false, label: "x", message: "<broke>", kind: "poll" }, { row: "cluster", at: 3000, ok: true, label: "y", kind: "check" }],
      units: [{ node: "b", at: 5000, unit: "etcd.service", state: "failed", message: "etcd.service: Failed with result 'signal'." }],
    });
    expect(html.match(/class="fault-window"/g)).to.have.length(2);
    expect(html.match(/class="mark poll fail"/g)).to.have.length(1);
    expect(html.match(/class="mark check pass"/g)).to.have.length(1);
    expect(html).to.include("&lt;broke&gt;").and.not.include("<broke>");
    expect(html).to.include('class="unit-change" data-state="failed"');
    expect(html).to.not.match(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
