// Faults as data: the CLI's words become the same FaultSpec a suite sends; the faults in effect compile
// into each node's link rules; the timeline replays into fault windows; roles pick seeded nodes.
import { expect } from "chai";
import { parseFault } from "../../src/cli/commands/fault.ts";
import { isHarmless, type FaultSpec } from "../../src/contracts/faults.ts";
import { compileLinks, faultProblems, faultWindows, nodeFaultsAfter, type FaultEvent } from "../../src/instance/faults.ts";
import { applyScript } from "../../src/drivers/docker/netfaults.ts";
import { Faults } from "../../src/suite-api/faults.ts";
import type { Node } from "../../src/suite-api/node.ts";
import { prng } from "../../src/util/prng.ts";

const nodes = ["infra0", "infra1", "infra2"];
const ipOf = { infra0: "10.0.0.2", infra1: "10.0.0.3", infra2: "10.0.0.4" };

describe("galley fault arguments", () => {
  const parse = (words: string[], o = {}) => parseFault(words, o, nodes);
  it("reads node verbs either way round, units, partitions, drops, degraded links and heal", () => {
    expect(parse(["infra1", "crash"])).to.deep.equal({ kind: "crash", node: "infra1" });
    expect(parse(["pause", "infra2"])).to.deep.equal({ kind: "pause", node: "infra2" });
    expect(parse(["pause-unit", "infra0", "etcd.service"])).to.deep.equal({ kind: "pause-unit", node: "infra0", unit: "etcd.service" });
    expect(parse(["partition", "infra0,infra1", "infra2"])).to.deep.equal({ kind: "partition", groups: [["infra0", "infra1"], ["infra2"]] });
    expect(parse(["drop"], { from: "infra2" })).to.deep.equal({ kind: "drop", from: ["infra2"], to: ["infra0", "infra1"] });
    expect(parse(["degrade"], { from: "all", to: "all", delay: "300ms", jitter: "0.05s", loss: "1%", duplicate: "0.5", rate: "1mbit" })).to.deep.equal({
      kind: "degrade", from: nodes, to: nodes, shape: { delayMs: 300, jitterMs: 50, loss: 0.01, duplicate: 0.5, rateKbit: 1000 },
    });
    expect(parse(["heal"], { network: true })).to.deep.equal({ kind: "heal", scope: "network" });
    expect(parse([], { spec: '{"kind":"heal"}' })).to.deep.equal({ kind: "heal" });
  });
  it("names what is wrong", () => {
    expect(() => parse(["infra9", "crash"])).to.throw(/no node infra9 in the node \(nodes: infra0, infra1, infra2\)/);
    expect(() => parse(["wobble"])).to.throw(/unknown fault wobble/);
    expect(() => parse(["infra1", "explode"])).to.throw(/unknown fault explode for node infra1 \(node verbs: crash, stop/);
    expect(() => parse(["degrade"], { from: "infra0", loss: "150%" })).to.throw(/--loss takes a share like 5% or 0.05, not 150%/);
    expect(() => parse(["degrade"], { from: "infra0" })).to.throw(/degrade needs at least one of --delay/);
    expect(() => parse(["partition", "infra0"])).to.throw(/two or more groups/);
  });
  it("checks fault data against the nodes", () => {
    expect(faultProblems({ kind: "partition", groups: [["infra0", "infra1"], ["infra1", "infra7"]] }, nodes)).to.deep.equal([
      "no node infra7 (nodes: infra0, infra1, infra2)", "infra1 in more than one group",
    ]);
    expect(faultProblems({ kind: "degrade", from: ["infra0"], to: ["infra1"], shape: { delayMs: 10, jitterMs: 20, loss: 2 } }, nodes)).to.deep.equal([
      "loss must be between 0 and 1 (a share), not 2", "jitter (20 ms) must not exceed the delay (10 ms)",
    ]);
  });
});

describe("link rules compiled from the faults in effect", () => {
  it("a partition drops both ways at both ends; nodes of one group keep their link", () => {
    const r = compileLinks([{ kind: "partition", groups: [["infra0", "infra1"], ["infra2"]] }], ipOf);
    expect(r.infra0).to.deep.equal({ dropFrom: ["10.0.0.4"], dropTo: ["10.0.0.4"], shape: [] });
    expect(r.infra2).to.deep.equal({ dropFrom: ["10.0.0.2", "10.0.0.3"], dropTo: ["10.0.0.2", "10.0.0.3"], shape: [] });
  });
  it("a one-way drop is enforced at the sender's egress and the receiver's ingress only", () => {
    const r = compileLinks([{ kind: "drop", from: ["infra2"], to: ["infra0"] }], ipOf);
    expect(r.infra2).to.deep.equal({ dropFrom: [], dropTo: ["10.0.0.2"], shape: [] });
    expect(r.infra0).to.deep.equal({ dropFrom: ["10.0.0.4"], dropTo: [], shape: [] });
    expect(r.infra1).to.deep.equal({ dropFrom: [], dropTo: [], shape: [] });
  });
  it("degrade shapes each direction at its sender; a later degrade replaces it; a dropped direction is not shaped", () => {
    const slow = { delayMs: 300, jitterMs: 50 };
    const r = compileLinks([
      { kind: "degrade", from: nodes, to: nodes, shape: slow },
      { kind: "degrade", from: ["infra0"], to: ["infra1"], shape: { loss: 0.5 } },
      { kind: "drop", from: ["infra0"], to: ["infra2"] },
    ], ipOf);
    expect(r.infra0!.shape).to.deep.equal([{ to: "10.0.0.3", shape: { loss: 0.5 } }]);
    expect(r.infra1!.shape).to.deep.equal([{ to: "10.0.0.2", shape: slow }, { to: "10.0.0.4", shape: slow }]);
  });
  it("becomes iptables rules in Galley's own chains", () => {
    const script = applyScript({ dropFrom: ["10.0.0.4"], dropTo: [], shape: [{ to: "10.0.0.3", shape: { delayMs: 5 } }] });
    expect(script).to.include("-t raw -A GALLEY-DROP -s 10.0.0.4 -j DROP");
    expect(script).to.include("-t mangle -A GALLEY-SHAPE -d 10.0.0.3 -m mark ! --mark 18193 -j NFQUEUE --queue-num 4711 --queue-bypass");
    expect(applyScript({ dropFrom: [], dropTo: [], shape: [] })).to.equal("");
  });
});

describe("faults in effect on a node, and their windows on the timeline", () => {
  it("a crash ends pauses; start, resume and rejoin undo their own fault only", () => {
    expect(nodeFaultsAfter({ kind: "crash", node: "a" }, ["paused", "paused:etcd.service", "isolated"])).to.deep.equal(["isolated", "crashed"]);
    expect(nodeFaultsAfter({ kind: "start", node: "a" }, ["isolated", "crashed"])).to.deep.equal(["isolated"]);
    expect(nodeFaultsAfter({ kind: "resume-unit", node: "a", unit: "etcd.service" }, ["paused:etcd.service", "paused"])).to.deep.equal(["paused"]);
  });
  it("each fault opens a window on its nodes until what undoes it; failed faults open none; heal closes the rest", () => {
    const e = (at: number, spec: FaultSpec, error?: string): FaultEvent => ({ at, spec, label: spec.kind, ...(error ? { error } : {}) });
    const w = faultWindows([
      e(10, { kind: "partition", groups: [["infra0"], ["infra1", "infra2"]] }),
      e(12, { kind: "pause", node: "infra1" }),
      e(13, { kind: "crash", node: "infra2" }, "no such container"),
      e(15, { kind: "resume", node: "infra1" }),
      e(20, { kind: "heal", scope: "network" }),
      e(25, { kind: "crash", node: "infra0" }),
    ], 30);
    expect(w.map((x) => [x.kind, x.nodes.join(","), x.from, x.to, x.open])).to.deep.equal([
      ["partition", "infra0,infra1,infra2", 10, 20, false],
      ["pause", "infra1", 12, 15, false],
      ["crash", "infra0", 25, 30, true],
    ]);
  });
});

describe("fault targets by role", () => {
  const fake = (name: string) => ({ name }) as unknown as Node;
  const sent: FaultSpec[] = [];
  const make = (seed: number) => new Faults([fake("infra0"), fake("infra1"), fake("infra2"), fake("infra3"), fake("infra4")], async (s) => void sent.push(s), prng(seed), async () => fake("infra3"));
  it("minority and majority split five nodes 2 and 3, the same way for the same seed", async () => {
    const a = await make(7).partition("minority");
    const b = await make(7).partition("minority");
    expect(a.map((g) => g.length)).to.deep.equal([2, 3]);
    expect(a.map((g) => g.map((n) => n.name))).to.deep.equal(b.map((g) => g.map((n) => n.name)));
    expect((await make(7).pick("majority")).length).to.equal(3);
  });
  it("the leader is whoever the suite's function names; a role the cluster cannot fill is an error", async () => {
    sent.length = 0;
    await make(1).partition("leader");
    expect(sent[0]).to.deep.equal({ kind: "partition", groups: [["infra3"], ["infra0", "infra1", "infra2", "infra4"]] });
    const noLeader = new Faults([fake("a")], async () => {}, prng(1));
    expect(await noLeader.pick("leader").catch((e: Error) => e.message)).to.match(/leader role needs a way to find the leader/);
  });
  it("GALLEY_HARMLESS_FAULTS names families: resume follows pause, rejoin follows isolate; heal and start are never harmless", () => {
    expect(isHarmless("resume", "pause")).to.equal(true);
    expect(isHarmless("rejoin", "isolate")).to.equal(true);
    expect(isHarmless("degrade", "partition,drop")).to.equal(false);
    expect(isHarmless("heal", "all")).to.equal(false);
    expect(isHarmless("start", "all")).to.equal(false);
  });
});
