// The converge template on fake boxes: what it uploads where and in which order, each node's
// environment, the cluster phase on the first node only, what it reports to the runner, and failures
// as data (node, command, exit code, output tail, step). The real ShellProvisioner supplies commands.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandFailed, failureOf, formatCommandFailure, TransportFailed, type CommandFailure } from "../../src/errors.ts";
import { converge, NodesFailed, type ConvergeFacts } from "../../src/provisioners/converge.ts";
import { HELPER_LIBRARY, ShellProvisioner } from "../../src/provisioners/shell.ts";
import type { InstanceState } from "../../src/state/state-file.ts";
import { InstanceLog } from "../../src/util/instance-log.ts";
import { FakeDriver, FakeTransport, makeProject, type Journal, type Project, type ProjectOptions } from "./fakes.ts";

const DIR = "/var/lib/galley";

describe("converge with fake boxes", function () {
  this.timeout(5_000); // in memory: a hang is a failure, not a wait
  let project: Project;
  let journal: Journal;
  let transport: FakeTransport;
  let recorded: ConvergeFacts[];
  let state: InstanceState;
  let keys: string;
  let artifacts: string;

  beforeEach(() => {
    artifacts = mkdtempSync(path.join(os.tmpdir(), "galley-fakes-artifact-"));
    for (const [name, version] of [["etcd", "3.6.16"], ["fleet", "v1.0.0"]] as const) {
      mkdirSync(path.join(artifacts, name, "bin"), { recursive: true });
      writeFileSync(path.join(artifacts, name, "VERSION"), `${version}\n`);
      writeFileSync(path.join(artifacts, name, "bin", name), "not run\n");
    }
    keys = mkdtempSync(path.join(os.tmpdir(), "galley-fakes-keys-"));
    writeFileSync(path.join(keys, "id_rsa"), "fake key\n");
    setUp();
  });
  afterEach(() => {
    project.remove();
    rmSync(artifacts, { recursive: true, force: true });
    rmSync(keys, { recursive: true, force: true });
  });

  function setUp(o: ProjectOptions = {}): void {
    project?.remove();
    project = makeProject({
      nodes: [{ name: "infra0", attributes: { role: "leader" } }, { name: "infra1" }],
      attributes: { etcd: { client_port: 2379, enable_v2: true } },
      clusterScript: true,
      artifacts: { fleet: path.join(artifacts, "fleet"), etcd: path.join(artifacts, "etcd") },
      ...o,
    });
    journal = [];
    transport = new FakeTransport(journal);
    recorded = [];
    state = {
      instance: project.plan.name,
      nodes: Object.fromEntries(project.plan.nodes.map((n) => [n.name, { hostname: n.name, ip: `10.0.0.${10 + n.index}`, container: `c-${n.name}` }])),
    };
  }

  const run = () =>
    converge({
      plan: project.plan,
      state,
      transport,
      controlTransport: new FakeTransport(journal, "control"),
      driver: new FakeDriver(journal),
      provisioner: new ShellProvisioner(),
      sshKeyDir: keys,
      address: (n) => ({ name: n, ...state.nodes[n]! }),
      log: new InstanceLog(project.plan.stateDir),
      progress: () => {},
      record: (f) => recorded.push(f),
    });
  const failing = async (): Promise<Error> => {
    try {
      await run();
    } catch (err) {
      return err as Error;
    }
    throw new Error("expected converge to fail");
  };
  /** What converge reported last for each kind of fact. */
  const facts = (): ConvergeFacts => Object.assign({}, ...recorded);

  it("clears old uploads, then uploads provisioning, keys and each artifact, then runs the script, on every node", async () => {
    await run();
    for (const node of ["infra0", "infra1"]) {
      const steps = journal.filter((e) => e.startsWith(`${node}$ `) || e.startsWith(`${node} upload`)).slice(0, 8);
      expect(steps, node).to.deep.equal([
        `${node}$ ${cleanCommand(stampIn(journal, node))}`,
        `${node} upload ${DIR}/provision`,
        `${node} upload ${DIR}/lib`,
        `${node} upload ${DIR}/ssh`,
        `${node} upload ${DIR}/artifacts/fleet`,
        `${node} upload ${DIR}/artifacts/etcd`,
        `${node}$ echo ${stampIn(journal, node)} > ${DIR}/uploaded.stamp`,
        `${node}$ : > ${DIR}/changes && bash ${DIR}/provision/provision.sh`,
      ]);
      const uploads = transport.uploads.filter((u) => u.node === node);
      expect(uploads.map((u) => [u.localDir, u.files])).to.deep.equal([
        [project.plan.provisioner.name === "shell" && project.plan.provisioner.path, ["cluster.sh", "provision.sh"]],
        [HELPER_LIBRARY, ["galley.sh"]],
        [keys, ["id_rsa"]],
        [path.join(artifacts, "fleet"), ["VERSION", "bin/fleet"]],
        [path.join(artifacts, "etcd"), ["VERSION", "bin/etcd"]],
      ]);
    }
    expect(transport.open, "connections left open").to.equal(0);
  });

  it("gives each node its facts, its attributes as ATTR_* and the artifact names", async () => {
    await run();
    const env = (node: string) => transport.ran("provision.sh", node)[0]!.env;
    expect(env("infra1")).to.deep.equal({
      ATTR_ETCD_CLIENT_PORT: "2379",
      ATTR_ETCD_ENABLE_V2: "true",
      GALLEY_INSTANCE: "unit-test",
      GALLEY_NODE_NAME: "infra1",
      GALLEY_NODE_INDEX: "1",
      GALLEY_NODE_IP: "10.0.0.11",
      GALLEY_NODE_COUNT: "2",
      GALLEY_NODES: "infra0=10.0.0.10 infra1=10.0.0.11",
      GALLEY_DIR: DIR,
      GALLEY_LIB: `${DIR}/lib/galley.sh`,
      GALLEY_CHANGES: `${DIR}/changes`,
      GALLEY_ARTIFACTS: "etcd fleet",
    });
    expect(env("infra0")).to.include({ GALLEY_NODE_NAME: "infra0", GALLEY_NODE_INDEX: "0", GALLEY_NODE_IP: "10.0.0.10", ATTR_ROLE: "leader" });
  });

  it("passes the services' exports as attributes that override the configured ones", async () => {
    setUp({ attributes: { etcd: { discovery: "configured" } } });
    state.exports = { "etcd.discovery": "https://discovery.example/abc" };
    await run();
    for (const r of transport.ran("provision.sh")) expect(r.env.ATTR_ETCD_DISCOVERY, r.node).to.equal("https://discovery.example/abc");
    expect(facts().exports).to.deep.equal({ "etcd.discovery": "https://discovery.example/abc" });
  });

  it("runs the cluster phase once, on the first node, after every node converged", async () => {
    transport.on(`cat ${DIR}/cluster-changes`, { stdout: "fleet: submitted test.service\n" });
    transport.on(`cat ${DIR}/changes`, { stdout: "40-etcd: wrote etcd.conf\n" }, { node: "infra1" });
    await run();
    const cluster = transport.ran("cluster.sh");
    expect(cluster.map((c) => c.node)).to.deep.equal(["infra0"]);
    expect(cluster[0]!.script).to.equal(`: > ${DIR}/cluster-changes && bash ${DIR}/provision/cluster.sh`);
    expect(cluster[0]!.env).to.include({ GALLEY_CHANGES: `${DIR}/cluster-changes`, GALLEY_NODE_NAME: "infra0" });
    const clusterAt = journal.findIndex((e) => e.includes("cluster.sh"));
    const lastNodeRun = Math.max(...["infra0", "infra1"].map((n) => journal.indexOf(`${n}$ : > ${DIR}/changes && bash ${DIR}/provision/provision.sh`)));
    expect(clusterAt).to.be.greaterThan(lastNodeRun);
    expect(facts().changes).to.deep.equal({ infra0: [], infra1: ["40-etcd: wrote etcd.conf"], "(cluster)": ["fleet: submitted test.service"] });
  });

  it("without a cluster script there is no cluster phase", async () => {
    setUp({ clusterScript: false });
    await run();
    expect(transport.ran("cluster")).to.deep.equal([]);
    expect(facts().changes).to.deep.equal({ infra0: [], infra1: [] });
  });

  it("reports the artifacts it used, with their versions", async () => {
    await run();
    expect(facts().artifacts).to.deep.equal({
      etcd: { version: "3.6.16", description: `etcd from ${path.join(artifacts, "etcd")}` },
      fleet: { version: "1.0.0", description: `fleet from ${path.join(artifacts, "fleet")}` },
    });
  });

  it("a failing node is a CommandFailed: node, command, exit code, output tail and the last step it began", async () => {
    transport.on("provision.sh", { exitCode: 2, stdout: "--- 10-base\nok\n--- 40-etcd\nstarting etcd\n", stderr: "etcd: bind: address already in use\n" }, { node: "infra1" });
    const err = await failing();
    expect(err).to.be.instanceOf(CommandFailed);
    const f = (err as CommandFailed).failure;
    expect(f).to.include({ node: "infra1", command: "provision.sh", exitCode: 2, step: "40-etcd" });
    expect(f.outputTail).to.equal("--- 10-base\nok\n--- 40-etcd\nstarting etcd\netcd: bind: address already in use");
    expect(err.message).to.equal(formatCommandFailure(f));
    expect(err.message).to.match(/^node infra1: provision.sh failed with exit code 2 \(step 40-etcd\); last output:\n/);
    expect(transport.ran("cluster.sh"), "no cluster phase after a failed node").to.deep.equal([]);
    expect(facts().changes, "the changes of the node that converged").to.deep.equal({ infra0: [] });
    expect(transport.open, "connections left open").to.equal(0);
  });

  it("a node that timed out says so", async () => {
    transport.on("provision.sh", { exitCode: 124, stdout: "--- 40-etcd\n" }, { node: "infra0" });
    const err = await failing();
    expect(err.message).to.match(/^node infra0: provision.sh timed out after 600 s \(step 40-etcd\)/);
    expect((err as CommandFailed).failure.timeoutMs).to.equal(600_000);
  });

  it("several failing nodes give one error naming each, with the first one's data", async () => {
    setUp({ nodes: 3 });
    transport.on("provision.sh", { exitCode: 1, stdout: "--- 20-docker\n" }, { node: "infra0" });
    transport.on("provision.sh", { exitCode: 3, stdout: "--- 40-etcd\n" }, { node: "infra2" });
    const err = await failing();
    expect(err).to.be.instanceOf(NodesFailed);
    const failures = (err as NodesFailed).failures.map((e) => (e as CommandFailed).failure);
    expect(failures.map((f: CommandFailure) => [f.node, f.exitCode, f.step])).to.deep.equal([["infra0", 1, "20-docker"], ["infra2", 3, "40-etcd"]]);
    expect(err.message).to.include("node infra0: provision.sh failed with exit code 1 (step 20-docker)");
    expect(err.message).to.include("node infra2: provision.sh failed with exit code 3 (step 40-etcd)");
    expect(err.message).to.include(`(full output: ${path.join(project.plan.stateDir, "galley.log")})`);
    expect(failureOf(err)).to.include({ node: "infra0" });
  });

  it("a failing cluster phase names it", async () => {
    transport.on("cluster.sh", { exitCode: 5, stdout: "--- submit\nfleetctl: no agents\n" });
    const err = await failing();
    expect((err as CommandFailed).failure).to.include({ node: "infra0 (cluster phase)", command: "cluster.sh", exitCode: 5, step: "submit" });
  });

  it("a node that holds what the last converge uploaded gets no upload again; a changed file is uploaded anew", async () => {
    await run();
    const stamp = stampIn(journal, "infra0");
    // The fake node answers as a node that kept the stamp file would.
    transport.on(`= ${stamp} ]`, { stdout: "unchanged\n" });
    const before = transport.uploads.length;
    await run();
    expect(transport.uploads.length - before, "uploads on the second converge").to.equal(0);
    expect(transport.ran("provision.sh").length, "the provisioning still runs on every node").to.equal(4);
    writeFileSync(path.join(project.root, "provision", "provision.sh"), "# changed\n", { flag: "a" });
    await run();
    expect(transport.uploads.length - before, "uploads after a provisioning file changed").to.be.greaterThan(0);
    expect(stampIn(journal, "infra0")).to.not.equal(stamp);
  });

  it("a failure preparing a node names the command that failed", async () => {
    transport.on("rm -rf", { exitCode: 1, stderr: "rm: cannot remove: read-only file system\n" }, { node: "infra1" });
    const err = await failing();
    expect((err as CommandFailed).failure).to.include({ node: "infra1", command: cleanCommand(stampIn(journal, "infra1")), exitCode: 1 });
    expect(transport.ran("provision.sh", "infra1")).to.deep.equal([]);
  });

  it("a node that cannot be reached fails converge with the transport's error", async () => {
    transport.cutOff("infra1");
    const err = await failing();
    expect(err).to.be.instanceOf(TransportFailed);
    expect(err.message).to.equal("fake transport: infra1 cannot be reached");
  });

  it("writes each node's commands and output to the instance log", async () => {
    transport.on("provision.sh", { stdout: "--- 10-base\nall good\n" }, { node: "infra1" });
    await run();
    const log = readFileSync(path.join(project.plan.stateDir, "galley.log"), "utf8");
    expect(log).to.match(/\[infra1\] \$ : > \/var\/lib\/galley\/changes && bash/);
    expect(log).to.match(/\[infra1\] all good\n/);
    expect(log).to.match(/\[infra1\] exit 0 after 1 ms/);
  });
});

/** The stamp converge last computed for a node (from its clean command in the journal). */
function stampIn(journal: string[], node: string): string {
  const line = journal.filter((e) => e.startsWith(`${node}$ if [ "$(cat ${DIR}/uploaded.stamp`)).at(-1) ?? "";
  return /= ([0-9a-f]{64}) \]/.exec(line)?.[1] ?? "(no stamp)";
}

const cleanCommand = (stamp: string) =>
  `if [ "$(cat ${DIR}/uploaded.stamp 2>/dev/null)" = ${stamp} ]; then echo unchanged; else rm -rf ${DIR}/uploaded.stamp ${DIR}/provision ${DIR}/ssh ${DIR}/artifacts ${DIR}/lib && mkdir -p ${DIR}/artifacts; fi`;
