// Snapshots in the runner (fake plugins) and in the verifier child's suite tree: verify with
// isolate_destructive: snapshot takes one snapshot per converge and restores it for every destructive
// suite, the next verify restores instead of converging, a restore records the new boxes and clears the
// faults, and the restore hook runs ahead of a destructive suite's own hooks (they attach to the cluster).
import { expect } from "chai";
import Mocha from "mocha";
import { Instance } from "../../src/instance/instance.ts";
import { isolateDestructive } from "../../src/suite-api/isolation.ts";
import { destructive } from "../../src/suite-api/destructive.ts";
import { captureStderr, fakeComponents, makeProject, reuseOneKeyPair, written, type Fakes, type Project } from "./fakes.ts";

describe("snapshots in the runner (fake plugins)", function () {
  this.timeout(5_000);
  let project: Project;
  let fakes: Fakes;
  let instance: Instance;
  let stderr: ReturnType<typeof captureStderr>;
  let restoreKeys: () => void;
  before(() => (restoreKeys = reuseOneKeyPair()));
  after(() => restoreKeys());
  const setUp = (verifier: Record<string, unknown>) => {
    project = makeProject({ nodes: 2, verifier });
    fakes = fakeComponents();
    instance = new Instance(project.plan, fakes, (p) => ["galley", "fault", p.name]);
  };
  beforeEach(() => (stderr = captureStderr()));
  afterEach(() => {
    stderr.restore();
    project.remove();
  });
  const snapshotCalls = () => fakes.journal.filter((e) => /^driver\.(snapshot|restore)|^verifier\.verify|^driver\.create/.test(e));

  it("isolate_destructive: snapshot takes one snapshot after converge, restores it for every destructive suite but a first one on an untouched cluster, and the next verify restores instead of converging", async () => {
    setUp({ isolate_destructive: "snapshot" });
    fakes.verifier.destructive = ["failover", "wipe"];
    fakes.verifier.onVerify = async (ctx) => {
      expect(ctx.restore, "verify gets a restore").to.be.a("function");
      await ctx.restore!(); // "failover": nothing touched the cluster since the snapshot
      fakes.journal.push("(failover ran)");
      await ctx.restore!(); // "wipe"
    };
    await instance.transitionTo("verify");
    expect(snapshotCalls()).to.deep.equal(["driver.create", "driver.snapshot converged", "verifier.verify", "driver.restore converged"]);
    const { state } = written(project.plan);
    expect(state.snapshots?.converged?.convergedAt).to.equal(state.convergedAt).and.to.be.a("string");
    expect(state.nodes.infra0!.container).to.match(/-restored$/);
    expect(state.changedBy).to.deep.equal(["failover", "wipe"]);

    fakes.journal.length = 0;
    await instance.transitionTo("verify");
    // The snapshot holds this converge: restored (not converged) before, and not taken again.
    expect(snapshotCalls()).to.deep.equal(["driver.restore converged", "verifier.verify", "driver.restore converged"]);

    // A fault before the first destructive suite (a non-destructive suite's) means it gets a restore too.
    fakes.journal.length = 0;
    const suites = fakes.verifier.onVerify;
    fakes.verifier.onVerify = async (ctx) => {
      await ctx.fault({ kind: "crash", node: "infra1" });
      await suites!(ctx);
    };
    await instance.transitionTo("verify");
    expect(snapshotCalls()).to.deep.equal(["driver.restore converged", "verifier.verify", "driver.restore converged", "driver.restore converged"]);
    expect(fakes.journal.some((e) => e.includes("$ : > /var/lib/galley/changes")), "no converge").to.equal(false);
    expect(stderr.text()).to.include("restore (after destructive suites) unit-test");
  });

  it("without the option verify takes no snapshot and gives no restore", async () => {
    setUp({});
    fakes.verifier.onVerify = (ctx) => {
      expect(ctx.restore).to.equal(undefined);
    };
    await instance.transitionTo("verify");
    expect(snapshotCalls()).to.deep.equal(["driver.create", "verifier.verify"]);
  });

  it("a restore clears the faults in effect and puts back the snapshot's lifecycle step; snapshots refuse a faulty cluster", async () => {
    setUp({});
    await instance.transitionTo("converge");
    await instance.snapshot("base");
    await instance.fault({ kind: "crash", node: "infra1" });
    const refused = await instance.snapshot("again").then(() => undefined, (e: Error) => e);
    expect(refused?.message).to.match(/cannot snapshot unit-test with faults in effect \(infra1 crashed\)/);
    await instance.restore("base");
    const { state, attach } = written(project.plan);
    expect(state.faults).to.equal(undefined);
    expect(state.lastAction).to.equal("converge");
    expect(state.snapshots?.base?.restoredAt).to.be.a("string");
    expect(attach!.nodes.map((n: { container: string }) => n.container)).to.deep.equal(["fake-unit-test-infra0-restored", "fake-unit-test-infra1-restored"]);
    const missing = await instance.restore("nope").then(() => undefined, (e: Error) => e);
    expect(missing?.message).to.equal("no snapshot nope of unit-test (snapshots: base)");
  });

  it("create and destroy forget the snapshots (the driver removed them)", async () => {
    setUp({});
    await instance.transitionTo("converge");
    await instance.snapshot();
    expect(written(project.plan).state.snapshots).to.have.key("converged");
    await instance.attempt("destroy");
    expect(written(project.plan).state.snapshots).to.equal(undefined);
  });
});

describe("isolateDestructive (the verifier child's suite tree)", () => {
  it("gives each destructive top-level suite a first hook that restores, ahead of its own; others get none", async () => {
    const root = new Mocha.Suite("", new Mocha.Context());
    const plain = Mocha.Suite.create(root, "plain");
    const broken = Mocha.Suite.create(root, "failover");
    destructive(broken, "moves the primary");
    const order: string[] = [];
    broken.beforeAll("attach", () => void order.push("attach"));
    const restored: string[] = [];
    expect(isolateDestructive(root, async (suite) => void restored.push(suite))).to.deep.equal(["failover"]);
    const hooks = (s: Mocha.Suite) => (s as unknown as { _beforeAll: Mocha.Hook[] })._beforeAll;
    expect(hooks(plain)).to.have.length(0);
    expect(hooks(broken).map((h) => h.title)).to.deep.equal(['"before all" hook: restore the cluster from the snapshot taken after converge (before "failover")', '"before all" hook: attach']);
    await (hooks(broken)[0]!.fn as (this: unknown) => Promise<void>).call({ timeout() {} });
    expect(restored).to.deep.equal(["failover"]);
  });
});
