// Services on fake boxes: set up once, checked at every converge (every service that is missing, down
// or not ready is named), and asked once per instance for their exports (known values are kept). The
// driver says whether a box runs; commands go through the control transport.
import { expect } from "chai";
import { ActionFailed, CommandFailed } from "../../src/errors.ts";
import { checkServices, nestExports, serviceAddresses, serviceExports, setUpServices } from "../../src/services/services.ts";
import type { InstanceState } from "../../src/state/state-file.ts";
import { InstanceLog } from "../../src/util/instance-log.ts";
import { FakeDriver, FakeTransport, makeProject, type Project } from "./fakes.ts";

const READY_PROXY = "systemctl is-active --quiet tinyproxy";
const READY_DISCOVERY = "curl -fs http://127.0.0.1:8087/health";

describe("services with fake boxes", function () {
  this.timeout(5_000); // in memory: a hang is a failure, not a wait
  let project: Project;
  let driver: FakeDriver;
  let control: FakeTransport;
  let state: InstanceState;

  beforeEach(async () => {
    project = makeProject({
      nodes: 2,
      attributes: { proxy: { port: 8888 } },
      services: {
        proxy: { script: "services/tinyproxy.sh", ready: READY_PROXY },
        discovery: { script: "services/discovery.sh", ready: READY_DISCOVERY, export: { "etcd.discovery": "cat /token", "dns.zone": "cat /zone" } },
        dns: { script: "services/dns.sh" },
      },
    });
    driver = new FakeDriver();
    control = new FakeTransport();
    state = { instance: project.plan.name, nodes: {} };
    // The fake driver's boxes, recorded as the runner records them.
    await driver.create(project.plan, { progress: () => {}, sshKey: "", record: (f) => Object.assign(state, structuredClone(f)) });
  });
  afterEach(() => project.remove());

  describe("set-up", () => {
    it("uploads each service's folder, runs its script with the instance's facts, and waits until it is ready", async () => {
      await setUpServices(project.plan, serviceAddresses(state), control, new InstanceLog(project.plan.stateDir));
      expect(control.uploads.map((u) => [u.node, u.remoteDir, u.files])).to.have.deep.members([
        ["proxy", "/var/lib/galley/service", ["discovery.sh", "dns.sh", "tinyproxy.sh"]],
        ["discovery", "/var/lib/galley/service", ["discovery.sh", "dns.sh", "tinyproxy.sh"]],
        ["dns", "/var/lib/galley/service", ["discovery.sh", "dns.sh", "tinyproxy.sh"]],
      ]);
      const proxy = control.ran("bash /var/lib/galley/service/tinyproxy.sh");
      expect(proxy.map((r) => r.node)).to.deep.equal(["proxy"]);
      expect(proxy[0]!.env).to.deep.equal({
        ATTR_PROXY_PORT: "8888",
        GALLEY_INSTANCE: "unit-test",
        GALLEY_SERVICE_NAME: "proxy",
        GALLEY_NODE_COUNT: "2",
        GALLEY_NODE_NAMES: "infra0 infra1",
      });
      expect(control.ran(READY_PROXY).map((r) => r.node)).to.deep.equal(["proxy"]);
      expect(control.open).to.equal(0);
    });

    it("a failing set-up script names the service, the script and its output", async () => {
      control.on("discovery.sh", { exitCode: 7, stderr: "port 8087 in use\n" });
      try {
        await setUpServices(project.plan, serviceAddresses(state), control, new InstanceLog(project.plan.stateDir));
        expect.fail("set-up passed");
      } catch (err) {
        expect(err).to.be.instanceOf(CommandFailed);
        expect((err as CommandFailed).failure).to.include({ node: "discovery (service)", command: "discovery.sh", exitCode: 7, outputTail: "port 8087 in use" });
      }
    });

    it("a service the driver did not create is named", async () => {
      delete state.services!.dns;
      try {
        await setUpServices(project.plan, serviceAddresses(state), control, new InstanceLog(project.plan.stateDir));
        expect.fail("set-up passed");
      } catch (err) {
        expect(err).to.be.instanceOf(ActionFailed);
        expect((err as Error).message).to.equal("service dns of unit-test was not created");
      }
    });
  });

  describe("checkServices", () => {
    it("passes when every service runs and is ready", async () => {
      await checkServices(project.plan, state, driver, control);
      expect(control.ran("systemctl").length + control.ran("curl").length).to.equal(2);
    });

    it("names each service that is missing, down or not ready, in one error", async () => {
      driver.boxes.delete("dns");
      driver.boxes.get("discovery")!.running = false;
      control.on(READY_PROXY, { exitCode: 3, stdout: "inactive\n" });
      try {
        await checkServices(project.plan, state, driver, control);
        expect.fail("checkServices passed");
      } catch (err) {
        expect(err).to.be.instanceOf(ActionFailed);
        expect((err as Error).message.split("\n")).to.deep.equal([
          `service proxy of unit-test is not ready: \`${READY_PROXY}\` exit 3: inactive`,
          "service discovery of unit-test is down (box discovery exited, exit code 137)",
          "service dns of unit-test does not exist (run `galley create unit-test`)",
        ]);
      }
      expect(control.ran(READY_DISCOVERY), "a service that is down is not asked whether it is ready").to.deep.equal([]);
      expect(control.open).to.equal(0);
    });
  });

  describe("serviceExports", () => {
    it("runs each export's command once in its service and returns every value", async () => {
      control.on("cat /token", { stdout: "https://discovery.example/abc\n" });
      control.on("cat /zone", { stdout: "cluster.test.\n" });
      const exports = await serviceExports(project.plan, {}, serviceAddresses(state), control);
      expect(exports).to.deep.equal({ "etcd.discovery": "https://discovery.example/abc", "dns.zone": "cluster.test." });
      expect(control.ran("cat /token").map((r) => [r.node, r.env.GALLEY_SERVICE_NAME])).to.deep.equal([["discovery", "discovery"]]);
    });

    it("keeps the values already known and asks only for the rest", async () => {
      control.on("cat /token", { stdout: "https://discovery.example/NEW\n" });
      control.on("cat /zone", { stdout: "cluster.test.\n" });
      const known = { "etcd.discovery": "https://discovery.example/abc" };
      const exports = await serviceExports(project.plan, known, serviceAddresses(state), control);
      expect(exports).to.deep.equal({ "etcd.discovery": "https://discovery.example/abc", "dns.zone": "cluster.test." });
      expect(control.ran("cat /token")).to.deep.equal([]);
      expect(known, "the caller's object is left alone").to.deep.equal({ "etcd.discovery": "https://discovery.example/abc" });
    });

    it("an export that fails or prints nothing names the service, the attribute and the command", async () => {
      for (const result of [{ exitCode: 1, stderr: "no such file\n" }, { exitCode: 0, stdout: "  \n" }]) {
        const c = new FakeTransport().on("cat /token", result);
        try {
          await serviceExports(project.plan, {}, serviceAddresses(state), c);
          expect.fail("serviceExports passed");
        } catch (err) {
          expect(err).to.be.instanceOf(CommandFailed);
          expect((err as CommandFailed).failure).to.include({ node: "discovery (service)", command: "exporting etcd.discovery with `cat /token`", exitCode: result.exitCode });
        }
        expect(c.open).to.equal(0);
      }
    });

    it("nests dotted names for the attributes", () => {
      expect(nestExports({ "etcd.discovery": "u", "dns.zone": "z", top: "t" })).to.deep.equal({ etcd: { discovery: "u" }, dns: { zone: "z" }, top: "t" });
    });
  });
});
