// The runner is the only writer of instance state: what the driver and converge report lands in
// .galley/<instance>/state.json even when the action then fails, destroy forgets it, and attach.json
// (what suites read) says the same as the state. Also: the idempotence check, and faults recorded as
// they are injected. In-memory plugins, no Docker.
import { expect } from "chai";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { InstanceFailure, UserError } from "../../src/errors.ts";
import { Instance } from "../../src/instance/instance.ts";
import { captureStderr, fakeComponents, makeProject, phases, reuseOneKeyPair, written, type Fakes, type Project, type ProjectOptions } from "./fakes.ts";

const TOKEN = "https://discovery.example/abc";

describe("the runner with fake plugins: state", function () {
  this.timeout(5_000); // in memory: a hang is a failure, not a wait
  let project: Project;
  let fakes: Fakes;
  let instance: Instance;
  let stderr: ReturnType<typeof captureStderr>;
  let restoreKeys: () => void;

  const setUp = (o: ProjectOptions = {}, { faults = true } = {}) => {
    project?.remove();
    project = makeProject({ nodes: 2, ...o });
    fakes = fakeComponents({ faults });
    instance = new Instance(project.plan, fakes, (p) => ["galley", "--config", p.configFile, "fault", p.name]);
  };
  /** A discovery service whose token is asked for once per instance; asked again, it would differ. */
  const withDiscovery = () => {
    setUp({
      attributes: { etcd: { client_port: 2379 } },
      nodes: [{ name: "infra0", attributes: { role: "leader" } }, { name: "infra1" }],
      services: { discovery: { script: "services/discovery.sh", export: { "etcd.discovery": "cat /token" } } },
    });
    fakes.controlTransport.on("cat /token", { stdout: "https://discovery.example/SECOND-TOKEN\n" });
    fakes.controlTransport.on("cat /token", { stdout: `${TOKEN}\n` }, { once: true });
  };
  const failure = async (p: Promise<unknown>): Promise<Error> => {
    try {
      await p;
    } catch (err) {
      return err as Error;
    }
    throw new Error("expected a failure, but it passed");
  };

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

  describe("what plugins report is stored", () => {
    it("the driver's facts reach state.json even when create fails halfway", async () => {
      fakes.driver.failOn("create infra1");
      const err = await failure(instance.transitionTo("converge"));
      expect((err as InstanceFailure).action).to.equal("create");
      const { state, attach } = written(project.plan);
      expect(state.nodes).to.deep.equal({ infra0: { hostname: "infra0", ip: "10.0.0.10", container: "fake-unit-test-infra0" } });
      expect(state).to.include({ session: "fake-session", lastAttempted: "create", lastError: "create: fake driver: create infra1 failed" });
      expect(state.lastAction).to.equal(undefined);
      expect(state.network).to.deep.equal({ id: "net-1", name: "fake-unit-test" });
      expect(attach?.nodes.map((n: { name: string }) => n.name), "the box that exists can be logged into").to.deep.equal(["infra0"]);
    });

    it("a create that failed is run again by the next converge", async () => {
      fakes.driver.failOn("create infra1");
      await failure(instance.transitionTo("converge"));
      fakes.journal.length = 0;
      await instance.transitionTo("converge");
      expect(phases(fakes.journal).sort()).to.deep.equal(["converge infra0", "converge infra1", "create"]);
      expect(Object.keys(written(project.plan).state.nodes)).to.deep.equal(["infra0", "infra1"]);
    });

    it("converge's exports are stored even when a node then fails, so the discovery token survives", async () => {
      withDiscovery();
      fakes.transport.on("provision.sh", { exitCode: 1 }, { node: "infra1", once: true });
      await failure(instance.transitionTo("converge"));
      expect(written(project.plan).state.exports).to.deep.equal({ "etcd.discovery": TOKEN });

      await instance.transitionTo("converge");
      expect(written(project.plan).state.exports).to.deep.equal({ "etcd.discovery": TOKEN });
      expect(fakes.controlTransport.ran("cat /token"), "the token is asked for once").to.have.length(1);
      const runs = fakes.transport.ran("provision.sh");
      expect(runs.map((r) => `${r.node} ${r.env.ATTR_ETCD_DISCOVERY}`)).to.have.members([
        `infra0 ${TOKEN}`, `infra1 ${TOKEN}`, // first converge
        `infra0 ${TOKEN}`, `infra1 ${TOKEN}`, // second
      ]);
    });

    it("a new create forgets what the old services exported", async () => {
      withDiscovery();
      await instance.transitionTo("converge");
      await instance.transitionTo("create");
      expect(written(project.plan).state.exports).to.equal(undefined);
      await instance.transitionTo("converge");
      expect(written(project.plan).state.exports).to.deep.equal({ "etcd.discovery": "https://discovery.example/SECOND-TOKEN" });
    });

    it("the changes each node reported are stored", async () => {
      fakes.transport.on("cat /var/lib/galley/changes", { stdout: "40-etcd: wrote /etc/default/etcd\n" }, { node: "infra1" });
      await instance.transitionTo("converge");
      expect(written(project.plan).state.changes).to.deep.equal({ infra0: [], infra1: ["40-etcd: wrote /etc/default/etcd"] });
    });
  });

  describe("destroy", () => {
    it("clears boxes, exports, changes and faults, removes attach.json and the key", async () => {
      withDiscovery();
      fakes.transport.on("cat /var/lib/galley/changes", { stdout: "10-base: installed curl\n" });
      await instance.transitionTo("converge");
      await instance.fault({ kind: "isolate", node: "infra1" });
      const before = written(project.plan).state;
      for (const k of ["exports", "changes", "faults", "services", "sshKey", "session"] as const) expect(before[k], k).to.exist;

      await instance.transitionTo("destroy");
      const { state, attach } = written(project.plan);
      expect(state.nodes).to.deep.equal({});
      for (const k of ["exports", "changes", "faults", "services", "sshKey", "session", "network", "lastAction", "artifacts"] as const) {
        expect(state[k], k).to.equal(undefined);
      }
      expect(attach).to.equal(undefined);
      expect(existsSync(path.join(project.plan.stateDir, "attach.json"))).to.equal(false);
      expect(existsSync(path.join(project.plan.stateDir, "ssh"))).to.equal(false);
    });

    it("a destroy that fails keeps the boxes in the state, so it can be run again", async () => {
      await instance.transitionTo("create");
      fakes.driver.failOn("destroy");
      await failure(instance.transitionTo("destroy"));
      const { state, attach } = written(project.plan);
      expect(Object.keys(state.nodes)).to.deep.equal(["infra0", "infra1"]);
      expect(state.lastError).to.equal("destroy: fake driver: destroy failed");
      expect(attach).to.exist;
    });
  });

  describe("attach.json", () => {
    it("says what the state says: addresses, attributes with the exports, fault verbs, fault command", async () => {
      withDiscovery();
      await instance.transitionTo("verify");
      const { state, attach } = written(project.plan);
      expect(fakes.verifier.attachSeen[0], "the verifier reads the file written before it ran").to.deep.equal(attach);
      const key = state.sshKey;
      expect(key).to.equal(path.join(project.plan.stateDir, "ssh", "id_rsa"));
      expect(attach).to.deep.equal({
        format: 1,
        instance: "unit-test",
        attributes: { etcd: { client_port: 2379, discovery: TOKEN } },
        exports: { "etcd.discovery": TOKEN },
        artifacts: {},
        transport: { name: "docker-exec", commandTimeoutMs: 600_000 },
        controlTransport: { name: "docker-exec", commandTimeoutMs: 600_000 },
        nodes: [
          { name: "infra0", hostname: "infra0", ip: "10.0.0.10", container: "fake-unit-test-infra0", keyFile: key, index: 0, attributes: { etcd: { client_port: 2379, discovery: TOKEN }, role: "leader" } },
          { name: "infra1", hostname: "infra1", ip: "10.0.0.11", container: "fake-unit-test-infra1", keyFile: key, index: 1, attributes: { etcd: { client_port: 2379, discovery: TOKEN } } },
        ],
        services: [{ name: "discovery", hostname: "discovery", ip: "10.0.0.100", container: "fake-unit-test-discovery", keyFile: key }],
        driver: { name: "fake", faults: ["crash", "stop", "start", "isolate", "rejoin", "pause-unit", "resume-unit", "heal"] },
        faultCommand: ["galley", "--config", project.plan.configFile, "fault", "unit-test"],
      });
    });

    it("is written again before the checks run, so a verify never reads an old or missing one", async () => {
      await instance.transitionTo("converge");
      rmSync(path.join(project.plan.stateDir, "attach.json"));
      await new Instance(project.plan, fakes, () => ["galley", "fault", "from-this-process"]).transitionTo("verify");
      expect(fakes.verifier.attachSeen[0]).to.deep.include({ faultCommand: ["galley", "fault", "from-this-process"] });
    });

    it("lists no fault verbs for a driver without them", async () => {
      setUp({}, { faults: false });
      await instance.transitionTo("create");
      expect(written(project.plan).attach?.driver).to.deep.equal({ name: "fake", faults: [] });
    });
  });

  describe("idempotence", () => {
    it("a second converge that changes something fails naming each node, step and change", async () => {
      fakes.transport.on("cat /var/lib/galley/changes", { stdout: "40-etcd: wrote /etc/default/etcd\n50-fleet: restarted fleet\n" }, { node: "infra1" });
      const err = await failure(instance.test("passing"));
      expect((err as InstanceFailure).action).to.equal("converge");
      expect(err.message).to.include(
        "not idempotent: the second converge changed infra1:\n  infra1: 40-etcd: wrote /etc/default/etcd\n  infra1: 50-fleet: restarted fleet",
      );
      expect(err.message).to.match(/^converge again \(idempotence\) failed on unit-test:/);
      expect(phases(fakes.journal)).not.to.include("verify");
      expect(written(project.plan).state.lastError).to.equal("converge: not idempotent: the second converge changed infra1:");
    });

    it("changes in the cluster phase count too", async () => {
      setUp({ clusterScript: true });
      fakes.transport.on("cat /var/lib/galley/cluster-changes", { stdout: "fleet: submitted test.service\n" });
      const err = await failure(instance.test("passing"));
      expect(err.message).to.include("the second converge changed (cluster):\n  (cluster): fleet: submitted test.service");
    });

    it("changes on the first converge only are what a provisioning should report", async () => {
      fakes.transport.on("cat /var/lib/galley/changes", { stdout: "40-etcd: wrote /etc/default/etcd\n" }, { node: "infra0", once: true });
      await instance.test("passing");
      expect(phases(fakes.journal)).to.include("verify");
    });
  });

  describe("faults", () => {
    beforeEach(() => instance.transitionTo("converge"));

    it("calls the driver and records what is in effect: crash until start, isolate until rejoin", async () => {
      const faults = () => written(project.plan).state.faults;
      await instance.fault({ kind: "crash", node: "infra1" });
      expect(fakes.journal.at(-1)).to.equal("driver.crash infra1");
      expect(fakes.driver.boxes.get("infra1")?.running).to.equal(false);
      expect(faults()).to.deep.equal({ infra1: ["crashed"] });
      await instance.fault({ kind: "start", node: "infra1" });
      expect(faults()).to.equal(undefined);

      await instance.fault({ kind: "isolate", node: "infra0" });
      await instance.fault({ kind: "stop", node: "infra0" });
      expect(faults()).to.deep.equal({ infra0: ["isolated", "stopped"] });
      await instance.fault({ kind: "rejoin", node: "infra0" });
      expect(faults()).to.deep.equal({ infra0: ["stopped"] });
      await instance.fault({ kind: "start", node: "infra0" });
      expect(faults()).to.equal(undefined);
      expect(fakes.driver.boxes.get("infra0")).to.include({ running: true, isolated: false });
    });

    it("goes through the runner when a check asks for one", async () => {
      fakes.verifier.faults = [["infra0", "isolate"]];
      await instance.transitionTo("verify");
      expect(fakes.journal).to.include("driver.isolate infra0");
      expect(written(project.plan).state.faults).to.deep.equal({ infra0: ["isolated"] });
    });

    it("a fault the driver fails to inject is not recorded", async () => {
      fakes.driver.failOn("crash");
      await failure(instance.fault({ kind: "crash", node: "infra1" }));
      expect(written(project.plan).state.faults).to.equal(undefined);
    });

    it("on a driver without fault verbs: a UserError naming the driver", async () => {
      setUp({}, { faults: false });
      const err = await failure(instance.fault({ kind: "crash", node: "infra0" }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.equal("the fake driver cannot inject faults (crash on infra0 of unit-test)");
    });

    it("on an unknown node: a UserError naming the valid ones, and the driver is not asked", async () => {
      const err = await failure(instance.fault({ kind: "crash", node: "infra9" }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.equal("no node infra9 in unit-test (nodes: infra0, infra1)");
      expect(fakes.journal.filter((e) => e.startsWith("driver.crash"))).to.deep.equal([]);
    });
  });
});
