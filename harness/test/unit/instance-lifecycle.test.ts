// The runner (Instance) with in-memory plugins: which actions run in which order, what `test` does
// with a passing and a failing instance under each destroy policy, how a failed action resumes, and
// what an interrupt leaves in the state. No Docker: the fakes journal every call.
import { expect } from "chai";
import { InstanceFailure } from "../../src/errors.ts";
import { Instance } from "../../src/instance/instance.ts";
import { captureStderr, check, fakeComponents, makeProject, phases, reuseOneKeyPair, written, type Fakes, type Project } from "./fakes.ts";

describe("the runner with fake plugins: lifecycle", function () {
  this.timeout(5_000); // in memory: a hang is a failure, not a wait
  let project: Project;
  let fakes: Fakes;
  let instance: Instance;
  let stderr: ReturnType<typeof captureStderr>;

  const setUp = (nodes = 1) => {
    project?.remove();
    project = makeProject({ nodes });
    fakes = fakeComponents();
    instance = new Instance(project.plan, fakes, (p) => ["galley", "fault", p.name]);
  };
  let restoreKeys: () => void;
  before(() => (restoreKeys = reuseOneKeyPair()));
  after(() => restoreKeys());
  beforeEach(() => {
    stderr = captureStderr();
    setUp();
  });
  afterEach(() => {
    stderr.restore();
    project.remove();
  });

  const failure = async (p: Promise<unknown>): Promise<Error> => {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error("expected a failure, but it passed");
  };

  describe("ordering", () => {
    it("runs create, converge and verify in that order when verify is asked of a fresh instance", async () => {
      await instance.transitionTo("verify");
      expect(phases(fakes.journal)).to.deep.equal(["create", "converge infra0", "verify"]);
      const { state } = written(project.plan);
      expect(state).to.include({ lastAction: "verify", lastAttempted: "verify" });
      expect(state.lastError).to.equal(undefined);
    });

    it("converges before the next verify when a verify ran destructive suites, and only then", async () => {
      fakes.verifier.destructive = ["failover"];
      await instance.transitionTo("verify");
      expect(written(project.plan).state.changedBy).to.deep.equal(["failover"]);
      fakes.verifier.destructive = undefined;
      fakes.journal.length = 0;
      await instance.transitionTo("verify");
      expect(phases(fakes.journal)).to.deep.equal(["converge infra0", "verify"]);
      expect(stderr.text()).to.include("converge (after destructive suites) unit-test");
      expect(written(project.plan).state.changedBy).to.equal(undefined);
      fakes.journal.length = 0;
      await instance.transitionTo("verify");
      expect(phases(fakes.journal)).to.deep.equal(["verify"]);
    });

    it("re-runs only the asked action when the instance is already past it", async () => {
      await instance.transitionTo("verify");
      fakes.journal.length = 0;
      await instance.transitionTo("verify");
      await instance.transitionTo("converge");
      expect(phases(fakes.journal)).to.deep.equal(["verify", "converge infra0"]);
      expect(written(project.plan).state.lastAction).to.equal("converge");
    });

    it("test: destroy → create → converge → converge again → verify → destroy, leaving nothing", async () => {
      await instance.test("passing");
      expect(phases(fakes.journal)).to.deep.equal(["destroy", "create", "converge infra0", "converge infra0", "verify", "destroy"]);
      const { state, attach } = written(project.plan);
      expect(state.nodes).to.deep.equal({});
      expect(state.lastAction).to.equal(undefined);
      expect(attach, "attach.json after the final destroy").to.equal(undefined);
      expect(fakes.driver.boxes.size).to.equal(0);
    });

    it("test without the idempotence check converges once", async () => {
      await instance.test("passing", { idempotence: false });
      expect(phases(fakes.journal)).to.deep.equal(["destroy", "create", "converge infra0", "verify", "destroy"]);
    });

    it("test with the destroy policy `never` keeps a passing instance", async () => {
      await instance.test("never");
      expect(phases(fakes.journal).at(-1)).to.equal("verify");
      expect(fakes.driver.boxes.size).to.equal(1);
      expect(written(project.plan).attach?.nodes).to.have.length(1);
    });
  });

  it("a verifier that ran no checks fails the verify (it proved nothing)", async () => {
    fakes.verifier.checks = [];
    const err = await failure(instance.transitionTo("verify"));
    expect(err.message).to.include("the fake verifier ran no checks on unit-test: nothing was verified");
  });

  describe("destroy policies on a failing instance", () => {
    beforeEach(() => {
      fakes.verifier.checks = [check("members agree"), check("three members", "failed", { error: "expected 3 members, saw 2" })];
    });

    it("`passing` keeps the failed instance for inspection and says how to reach it", async () => {
      const err = await failure(instance.test("passing"));
      expect(err).to.be.instanceOf(InstanceFailure);
      expect((err as InstanceFailure).action).to.equal("verify");
      expect(err.message).to.include("1 of 2 checks failed (1 passed, 0 skipped)").and.include("expected 3 members, saw 2");
      expect(phases(fakes.journal)).to.deep.equal(["destroy", "create", "converge infra0", "converge infra0", "verify"]);
      expect(fakes.driver.boxes.size).to.equal(1);
      expect(stderr.text()).to.include("unit-test kept for inspection: galley login unit-test · galley destroy unit-test");
      const { state, attach } = written(project.plan);
      expect(state).to.include({ lastAction: "converge", lastAttempted: "verify" });
      // galley list's one line names the check that failed.
      expect(state.lastError).to.equal("verify: check failed: three members");
      expect(attach?.nodes, "attach.json stays for login").to.have.length(1);
    });

    it("`never` keeps it too", async () => {
      await failure(instance.test("never"));
      expect(phases(fakes.journal).at(-1)).to.equal("verify");
      expect(stderr.text()).to.include("kept for inspection");
    });

    it("`always` destroys it and reports the failure that mattered", async () => {
      const err = await failure(instance.test("always"));
      expect((err as InstanceFailure).action).to.equal("verify");
      expect(phases(fakes.journal)).to.deep.equal(["destroy", "create", "converge infra0", "converge infra0", "verify", "destroy"]);
      expect(fakes.driver.boxes.size).to.equal(0);
      expect(stderr.text()).not.to.include("kept for inspection");
    });

    it("`always` whose cleanup fails too still reports the verify failure, and mentions the cleanup's", async () => {
      fakes.verifier.onVerify = () => void fakes.driver.failOn("destroy");
      const err = await failure(instance.test("always"));
      expect((err as InstanceFailure).action).to.equal("verify");
      expect(err.message).to.include("expected 3 members, saw 2");
      expect(stderr.text()).to.match(/unit-test: destroy after the failure also failed: .*fake driver: destroy failed/);
    });

    it("a failing converge stops before verify, and `always` destroys", async () => {
      fakes.verifier.checks = [check("never asked")];
      fakes.transport.on("provision.sh", { exitCode: 1, stdout: "--- 10-base\n" });
      const err = await failure(instance.test("always"));
      expect((err as InstanceFailure).action).to.equal("converge");
      expect(phases(fakes.journal)).to.deep.equal(["destroy", "create", "converge infra0", "destroy"]);
    });
  });

  describe("resume after a failure", () => {
    beforeEach(() => setUp(2));

    it("a node that fails converge leaves lastAction at create, the error recorded, and the state saved", async () => {
      fakes.transport.on("provision.sh", { exitCode: 1, stdout: "--- 30-etcd\nno etcd binary\n" }, { node: "infra1", once: true });
      const err = await failure(instance.transitionTo("verify"));
      expect(err).to.be.instanceOf(InstanceFailure);
      expect((err as InstanceFailure).action).to.equal("converge");
      expect(err.message).to.include("converge failed on unit-test").and.include("node infra1: provision.sh failed with exit code 1 (step 30-etcd)");
      expect(phases(fakes.journal)).not.to.include("verify");
      const { state } = written(project.plan);
      expect(state).to.include({ lastAction: "create", lastAttempted: "converge" });
      expect(state.lastError).to.equal("converge: node infra1: provision.sh failed (exit 1, step 30-etcd): no etcd binary");
      expect(Object.keys(state.nodes)).to.deep.equal(["infra0", "infra1"]);
    });

    it("the next transitionTo(verify) re-runs converge (on every node) and verify, not create", async () => {
      fakes.transport.on("provision.sh", { exitCode: 1 }, { node: "infra1", once: true });
      await failure(instance.transitionTo("verify"));
      fakes.journal.length = 0;
      await instance.transitionTo("verify");
      expect(phases(fakes.journal).sort()).to.deep.equal(["converge infra0", "converge infra1", "verify"]);
      const { state } = written(project.plan);
      expect(state).to.include({ lastAction: "verify" });
      expect(state.lastError).to.equal(undefined);
    });

    it("a new Instance on the same folder resumes from the saved state", async () => {
      fakes.transport.on("provision.sh", { exitCode: 1 }, { node: "infra1", once: true });
      await failure(instance.transitionTo("verify"));
      fakes.journal.length = 0;
      await new Instance(project.plan, fakes).transitionTo("verify");
      expect(phases(fakes.journal)).not.to.include("create");
      expect(phases(fakes.journal)).to.include("verify");
    });
  });

  describe("interrupts", () => {
    it("an interrupt during converge records it, and the state is saved at once", async () => {
      let reached!: () => void;
      const atProvision = new Promise<void>((r) => (reached = r));
      let finish!: (r: { exitCode: number }) => void;
      fakes.transport.on("provision.sh", () => {
        reached();
        return new Promise((r) => (finish = r));
      });
      const run = instance.transitionTo("verify");
      await atProvision;
      instance.interrupted("SIGINT");
      const { state, attach } = written(project.plan);
      expect(state).to.include({ lastError: "interrupted (SIGINT) during converge", lastAttempted: "converge", lastAction: "create" });
      expect(attach?.nodes, "the boxes are still reachable (galley login, destroy)").to.have.length(1);
      finish({ exitCode: 130 });
      await failure(run);
    });

    it("an interrupt during create keeps the boxes made so far in the state, for destroy to find", async () => {
      setUp(2);
      const pause = fakes.driver.pauseAt("create infra1");
      const run = instance.transitionTo("converge");
      await pause.reached;
      instance.interrupted("SIGTERM");
      const { state } = written(project.plan);
      expect(state).to.include({ lastError: "interrupted (SIGTERM) during create", lastAttempted: "create" });
      expect(Object.keys(state.nodes)).to.deep.equal(["infra0"]);
      pause.release();
      await run;
    });

    it("an interrupt before any action says so", () => {
      instance.interrupted("SIGTERM");
      expect(written(project.plan).state.lastError).to.equal("interrupted (SIGTERM) during start");
    });
  });
});
