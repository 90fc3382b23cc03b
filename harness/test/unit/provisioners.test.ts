// The provisioners without Docker: their config (a union by name, errors with file:line), the Ansible
// inventory, Ansible's verdict as Galley's callback records it (real ansible-playbook on localhost),
// and Puppet's wrapper (real bash, a stub puppet). The end-to-end runs are in e2e/provisioners.test.ts.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig, parseConfig } from "../../src/config/load.ts";
import { EnvironmentError, UserError } from "../../src/errors.ts";
import { provisionerFor } from "../../src/instance/components.ts";
import { planInstances, type InstancePlan } from "../../src/plan/plan.ts";
import { checkHost, installRequirements } from "../../src/provisioners/ansible/ansible.ts";
import { parseEvents, recapLine } from "../../src/provisioners/ansible/events.ts";
import { inventoryFor } from "../../src/provisioners/ansible/inventory.ts";
import { converge, type ConvergeFacts } from "../../src/provisioners/converge.ts";
import type { HostProvisioner, HostRunContext, HostRunNode } from "../../src/provisioners/provisioner.ts";
import { factsFor, PuppetProvisioner } from "../../src/provisioners/puppet.ts";
import { InstanceLog } from "../../src/util/instance-log.ts";
import { captureStderr, FakeDriver, FakeTransport, makeProject, type Journal } from "./fakes.ts";

const repo = path.resolve(import.meta.dirname, "../../..");
const planOf = (config: string, instance: string) => planInstances(loadConfig(path.join(repo, config))).find((p) => p.name === instance)!;

function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "galley-prov-"));
  for (const d of ["box", "specs", "modules"]) mkdirSync(path.join(dir, d));
  writeFileSync(path.join(dir, "box", "box.yml"), "name: x\ndistribution: bookworm\n");
  writeFileSync(path.join(dir, "site.yml"), "- hosts: all\n");
  writeFileSync(path.join(dir, "site.pp"), "notice('hi')\n");
  return dir;
}

function configError(provisioner: string, extra = ""): string {
  const dir = scratch();
  const text = `driver: docker\nprovisioner: ${provisioner}\nverifier: { name: mocha, suites: specs }\nplatforms: [{ name: p, box: box }]\nsuites:\n  - name: s\n    nodes: 1\n${extra}`;
  try {
    parseConfig(text, path.join(dir, "galley.yml"));
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("provisioner config", () => {
  const cases: [string, string, string, RegExp][] = [
    ["an unknown provisioner", "{ name: salt }", "", /galley\.yml:2: provisioner\.name: expected one of "shell", "ansible", "puppet", "chef"/],
    ["chef, reserved but not available", "{ name: chef, cookbook_path: cookbooks }", "", /galley\.yml:2: provisioner\.name: the chef provisioner is reserved but not available: chef-solo and cinc-client are not in Debian 12/],
    ["ansible without a playbook", "{ name: ansible }", "", /galley\.yml:2: provisioner\.playbook: is required/],
    ["a missing playbook", "{ name: ansible, playbook: nowhere.yml }", "", /galley\.yml:2: provisioner\.playbook: not found: .*nowhere\.yml/],
    ["a shell key on ansible", "{ name: ansible, playbook: site.yml, script: x.sh }", "", /galley\.yml:2: provisioner\.script: unknown key/],
    ["a missing module folder", "{ name: puppet, manifest: site.pp, modulepath: [modules, gone] }", "", /galley\.yml:2: provisioner\.modulepath\.1: folder not found: .*gone/],
    ["puppet --noop", "{ name: puppet, manifest: site.pp, options: [--noop] }", "", /galley\.yml:2: provisioner\.options: --noop would change nothing/],
    ["a suite's scripts under ansible", "{ name: ansible, playbook: site.yml }", "    provisioner: { script: x.sh }\n", /galley\.yml:8: suites\[0\]\.provisioner: only the shell provisioner takes a suite's path and scripts \(the provisioner is ansible\)/],
  ];
  for (const [what, provisioner, extra, pattern] of cases) {
    it(`rejects ${what} with file, line and key`, () => expect(configError(provisioner, extra)).to.match(pattern));
  }

  it("plans each provisioner with absolute paths, and picks its class", () => {
    const ansible = planOf("fixtures/ansible/galley.yml", "static-ansible-debian-12");
    expect(ansible.provisioner).to.deep.include({ name: "ansible", playbook: path.join(repo, "fixtures/fleet-cluster-ansible/site.yml"), options: [] });
    expect(provisionerFor(ansible).constructor.name).to.equal("AnsibleProvisioner");
    const puppet = planOf("fixtures/puppet/galley.yml", "static-puppet-debian-12");
    expect(puppet.provisioner).to.deep.include({
      name: "puppet",
      manifest: path.join(repo, "fixtures/fleet-cluster-puppet/manifests/site.pp"),
      clusterManifest: path.join(repo, "fixtures/fleet-cluster-puppet/manifests/cluster.pp"),
      modulepath: [path.join(repo, "fixtures/fleet-cluster-puppet/modules")],
      install: true,
    });
    expect(provisionerFor(puppet).constructor.name).to.equal("PuppetProvisioner");
    expect(provisionerFor(planOf("galley.yml", "static-debian-12")).constructor.name).to.equal("ShellProvisioner");
  });
});

describe("the converge template with a host provisioner (Ansible's shape), on fake boxes", function () {
  this.timeout(5_000);
  /** Records what it was given, journals its run, and reports what a playbook would have changed. */
  class FakeHostProvisioner implements HostProvisioner {
    readonly runsOnHost = true as const;
    runs: HostRunContext[] = [];
    constructor(private journal: Journal) {}
    async run(ctx: HostRunContext) {
      this.runs.push(ctx);
      this.journal.push("host run");
      ctx.say("a recap line");
      return { infra0: ['task "x" in play "y"'], infra1: [] };
    }
  }

  function setUp() {
    const artifact = mkdtempSync(path.join(os.tmpdir(), "galley-fakes-artifact-"));
    writeFileSync(path.join(artifact, "VERSION"), "1.0.0\n");
    const keys = mkdtempSync(path.join(os.tmpdir(), "galley-fakes-keys-"));
    writeFileSync(path.join(keys, "id_rsa"), "fake key\n");
    const project = makeProject({ nodes: [{ name: "infra0", attributes: { role: "leader" } }, { name: "infra1" }], artifacts: { fleet: artifact } });
    const journal: Journal = [];
    const transport = new FakeTransport(journal);
    const provisioner = new FakeHostProvisioner(journal);
    const recorded: ConvergeFacts[] = [];
    const state = {
      instance: project.plan.name,
      exports: { "etcd.discovery": "http://discovery/token" },
      nodes: Object.fromEntries(project.plan.nodes.map((n) => [n.name, { hostname: n.name, ip: `10.0.0.${10 + n.index}`, container: `c-${n.name}` }])),
    };
    const run = () => converge({
      plan: project.plan,
      state,
      transport,
      controlTransport: new FakeTransport(journal, "control"),
      driver: new FakeDriver(journal),
      provisioner,
      sshKeyDir: keys,
      address: (n) => ({ name: n, ...state.nodes[n]! }),
      log: new InstanceLog(project.plan.stateDir),
      progress: () => {},
      record: (f) => recorded.push(f),
    });
    return { project, journal, transport, provisioner, recorded, run };
  }

  it("prepares every node (keys and artifacts, no provisioning folder), then runs once from the host with every node, and records its changes per node", async () => {
    const t = setUp();
    const console = captureStderr();
    try {
      await t.run();
    } finally {
      console.restore();
    }
    expect(console.text(), "its console lines").to.include("  a recap line\n");
    expect(t.journal.some((e) => e.startsWith("infra0$ if [") && e.includes("rm -rf /var/lib/galley/uploaded.stamp /var/lib/galley/provision /var/lib/galley/ssh /var/lib/galley/artifacts && mkdir -p")), "infra0's old uploads cleared").to.equal(true);
    expect(t.journal).to.deep.include.members([
      "infra0 upload /var/lib/galley/ssh",
      "infra0 upload /var/lib/galley/artifacts/fleet",
      "infra1 upload /var/lib/galley/ssh",
    ]);
    expect(t.journal.filter((e) => e.includes("upload /var/lib/galley/provision"))).to.deep.equal([]);
    expect(t.journal.at(-1), "the run comes after every node is prepared").to.equal("host run");
    expect(t.journal.filter((e) => e === "host run")).to.have.length(1);
    const ctx = t.provisioner.runs[0]!;
    expect(ctx.nodes.map((n) => [n.node.name, n.ip, n.address.container])).to.deep.equal([["infra0", "10.0.0.10", "c-infra0"], ["infra1", "10.0.0.11", "c-infra1"]]);
    expect(ctx.nodes[0]!.node.attributes).to.deep.include({ role: "leader", etcd: { discovery: "http://discovery/token" } });
    expect(ctx.nodes[0]!.peers).to.deep.equal({ infra0: "10.0.0.10", infra1: "10.0.0.11" });
    expect(ctx.remoteDir).to.equal("/var/lib/galley");
    expect(Object.assign({}, ...t.recorded).changes).to.deep.equal({ infra0: ['task "x" in play "y"'], infra1: [] });
    expect(t.transport.open, "connections left open").to.equal(0);
    t.project.remove();
  });

  it("does not run when a node cannot be prepared, and names that node", async () => {
    const t = setUp();
    t.transport.on("rm -rf", { exitCode: 1, stderr: "read-only file system\n" }, { node: "infra1" });
    const err = await t.run().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/^node infra1: if \[ .* rm -rf .* failed with exit code 1; last output:\nread-only file system/);
    expect(t.provisioner.runs).to.have.length(0);
    t.project.remove();
  });
});

/** The nodes of a plan as the converge template hands them to a host provisioner. */
function runNodes(plan: InstancePlan, address: (name: string, i: number) => Partial<HostRunNode["address"]>): HostRunNode[] {
  const peers = Object.fromEntries(plan.nodes.map((n, i) => [n.name, `10.0.0.${i + 2}`]));
  return plan.nodes.map((n, i) => ({ node: n, ip: peers[n.name]!, peers, address: { name: n.name, ip: peers[n.name]!, ...address(n.name, i) } }));
}

describe("ansible inventory", () => {
  const plan = planOf("fixtures/ansible/galley.yml", "static-ansible-debian-12");

  it("docker-exec: Docker's connection to each container; node attributes as host variables, the instance's on all", () => {
    const inv = inventoryFor(plan, runNodes(plan, (_, i) => ({ container: `c${i}` })), "/var/lib/galley");
    expect(inv.all.hosts.infra1).to.deep.include({
      ansible_connection: "community.docker.docker",
      ansible_host: "c1",
      ansible_user: "root",
      galley_node_name: "infra1",
      galley_node_index: 1,
      galley_node_ip: "10.0.0.3",
      etcd: { enable_v2: true, client_port: 2379, peer_port: 2380 },
    });
    expect(inv.all.vars).to.deep.include({ galley_instance: plan.name, galley_dir: "/var/lib/galley", galley_node_count: 3, galley_artifacts: ["fleet"] });
    expect(inv.all.vars.galley_nodes).to.deep.equal({ infra0: "10.0.0.2", infra1: "10.0.0.3", infra2: "10.0.0.4" });
    expect(inv.all.vars.fleet).to.deep.equal({ metadata: { region: "eu-central-1" } });
    // A group per suite (a name Ansible accepts: '-' becomes '_').
    expect(inv.all.children).to.deep.equal({ static_ansible: { hosts: { infra0: {}, infra1: {}, infra2: {} } } });
  });

  it("ssh: SSH as root with the instance's key; a group per role the config names", () => {
    const ssh = planOf("fixtures/ansible/ssh.yml", "ssh-ansible-debian-12");
    const inv = inventoryFor(ssh, runNodes(ssh, () => ({ keyFile: "/k/id_rsa", host: "127.0.0.1", port: 2222 })), "/var/lib/galley");
    expect(inv.all.hosts.infra0).to.deep.include({ ansible_connection: "ssh", ansible_host: "127.0.0.1", ansible_port: 2222, ansible_user: "root", ansible_ssh_private_key_file: "/k/id_rsa", galley_roles: ["etcd", "fleet"] });
    expect(Object.keys(inv.all.children).sort()).to.deep.equal(["etcd", "fleet", "ssh_ansible"]);
  });

  it("a node's own attribute beats the instance's (host variables over group variables)", () => {
    const p = structuredClone(plan);
    p.nodes[2]!.attributes = { ...p.nodes[2]!.attributes, etcd: { client_port: 4001 } };
    const inv = inventoryFor(p, runNodes(p, (_, i) => ({ container: `c${i}` })), "/x");
    expect(inv.all.hosts.infra2!.etcd).to.deep.equal({ client_port: 4001 });
    expect(inv.all.vars.etcd).to.deep.include({ client_port: 2379 });
  });

  it("refuses an attribute that cannot be an Ansible variable, and a node without a container", () => {
    const p = structuredClone(plan);
    p.nodes[0]!.attributes = { "etcd-port": 1 };
    expect(() => inventoryFor(p, runNodes(p, (_, i) => ({ container: `c${i}` })), "/x")).to.throw(UserError, /attribute etcd-port of node infra0 cannot be an Ansible variable/);
    expect(() => inventoryFor(plan, runNodes(plan, () => ({})), "/x")).to.throw(UserError, /node infra0 of static-ansible-debian-12 has no container/);
  });
});

describe("ansible's verdict (Galley's callback on a real ansible-playbook)", function () {
  this.timeout(60_000);
  let events: ReturnType<typeof parseEvents>;
  let status: number | null;

  before(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-ansible-"));
    writeFileSync(path.join(dir, "inventory.yml"), "all:\n  hosts:\n    here: { ansible_connection: local, ansible_python_interpreter: auto_silent }\n    gone: { ansible_host: 127.0.0.1, ansible_port: 1, ansible_connection: ssh }\n");
    writeFileSync(path.join(dir, "play.yml"), `
- name: Verdicts
  hosts: all
  gather_facts: false
  tasks:
    - { name: nothing changes, ansible.builtin.command: "true", changed_when: false }
    - { name: something changes, ansible.builtin.command: "true", notify: a handler }
    - { name: fails but is ignored, ansible.builtin.command: "false", ignore_errors: true }
    - ansible.builtin.meta: flush_handlers
    - name: one loop item fails
      ansible.builtin.command: "sh -c 'echo item {{ item }} said no >&2; exit {{ item }}'"
      loop: [0, 7]
  handlers:
    - { name: a handler, ansible.builtin.command: "true" }
`);
    const out = path.join(dir, "events.jsonl");
    const r = spawnSync("ansible-playbook", ["-i", "inventory.yml", "play.yml"], {
      cwd: dir,
      encoding: "utf8",
      env: {
        ...process.env,
        ANSIBLE_CALLBACK_PLUGINS: path.join(repo, "harness/plugins/ansible"),
        ANSIBLE_CALLBACKS_ENABLED: "galley_events",
        GALLEY_ANSIBLE_EVENTS: out,
        PYTHONDONTWRITEBYTECODE: "1",
        ANSIBLE_LOCAL_TEMP: path.join(dir, "tmp"),
      },
    });
    status = r.status;
    expect(r.error, "ansible-playbook must be installed (apt-get install -y ansible)").to.equal(undefined);
    events = parseEvents(readFileSync(out, "utf8"));
  });

  it("records each changed task per host, handlers included, in the order they ran", () => {
    expect(events.changes.here).to.deep.equal([
      'task "something changes" in play "Verdicts"',
      'task "fails but is ignored" in play "Verdicts"',
      'handler "a handler" in play "Verdicts"',
      'task "one loop item fails" in play "Verdicts"',
    ]);
    expect(events.changes.gone ?? []).to.deep.equal([]);
  });

  it("reports failed tasks (not ignored ones) with what they said, and unreachable hosts", () => {
    expect(status).to.equal(4);
    const byHost = Object.fromEntries(events.failures.map((f) => [f.host, f]));
    expect(events.failures).to.have.length(2);
    expect(byHost.here).to.deep.include({ task: 'task "one loop item fails" in play "Verdicts"', unreachable: false });
    expect(byHost.here!.said).to.equal("non-zero return code\n(exit code 7)\nitem 7 said no");
    expect(byHost.gone).to.deep.include({ task: 'task "nothing changes" in play "Verdicts"', unreachable: true });
    expect(byHost.gone!.said).to.match(/Failed to connect to the host via ssh/);
  });

  it("keeps the recap per host, for one console line each", () => {
    const here = events.recaps.find((r) => r.host === "here")!;
    expect(recapLine(here)).to.match(/^here: ok=\d+ changed=\d+ unreachable=0 failed=1 skipped=0 rescued=0 ignored=1$/);
    expect(events.recaps.find((r) => r.host === "gone")).to.deep.include({ unreachable: 1 });
  });
});

describe("ansible on the host", () => {
  it("says exactly what to install when ansible-playbook is missing", () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(() => checkHost(planOf("fixtures/ansible/galley.yml", "static-ansible-debian-12"))).to.throw(EnvironmentError, /^static-ansible-debian-12: ansible-playbook is not on PATH \(the ansible provisioner runs it on this machine\): install it with `apt-get install -y ansible`/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it("tells galley doctor and setup what the host needs: Debian's ansible, and the docker CLI for Docker's connection", () => {
    const plan = planOf("fixtures/ansible/galley.yml", "static-ansible-debian-12");
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const checks = provisionerFor(plan).prerequisites!(plan);
      expect(checks.map((c) => [c.name, c.status, c.apt])).to.deep.equal([
        ["ansible", "missing", ["ansible"]],
        ["docker cli", "missing", ["docker.io"]],
      ]);
    } finally {
      process.env.PATH = saved;
    }
    // Here both are installed; over ssh Docker's CLI is not needed.
    expect(provisionerFor(plan).prerequisites!(plan).map((c) => c.status)).to.deep.equal(["ok", "ok"]);
    const ssh = planOf("fixtures/ansible/ssh.yml", "ssh-ansible-debian-12");
    expect(provisionerFor(ssh).prerequisites!(ssh).map((c) => c.name)).to.deep.equal(["ansible"]);
  });
});

describe("ansible requirements (real ansible-galaxy, local sources: Galaxy cannot be reached here)", function () {
  this.timeout(60_000);

  it("installs the file's roles and collections into the instance's folder, where ansible-playbook finds them", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-galaxy-"));
    const put = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    };
    put("coll/galaxy.yml", "namespace: galley_test\nname: demo\nversion: 1.0.0\nreadme: README.md\nauthors: [galley]\n");
    put("coll/README.md", "demo\n");
    put("coll/plugins/modules/hello.py", "from ansible.module_utils.basic import AnsibleModule\nm = AnsibleModule(argument_spec=dict(name=dict(type='str')))\nm.exit_json(changed=False, greeting='hello ' + m.params['name'])\n");
    put("role/hello_role/meta/main.yml", "galaxy_info: { author: galley, description: demo, license: MIT, min_ansible_version: '2.14' }\n");
    put("role/hello_role/tasks/main.yml", "- ansible.builtin.debug: { msg: role hello_role ran }\n");
    expect(spawnSync("tar", ["-C", path.join(dir, "role"), "-czf", path.join(dir, "hello_role.tar.gz"), "hello_role"]).status).to.equal(0);
    put("requirements.yml", `roles:\n  - { name: hello_role, src: "file://${dir}/hello_role.tar.gz" }\ncollections:\n  - { name: "${dir}/coll", type: dir }\n`);
    put("play.yml", "- hosts: localhost\n  gather_facts: false\n  roles: [hello_role]\n  tasks:\n    - { galley_test.demo.hello: { name: galley }, register: said }\n    - ansible.builtin.debug: { msg: \"{{ said.greeting }}\" }\n");

    const paths = await installRequirements(path.join(dir, "requirements.yml"), path.join(dir, "out"), {}, 60_000, new InstanceLog(path.join(dir, "state")));
    expect(paths.ANSIBLE_ROLES_PATH!.split(":")[0]).to.equal(path.join(dir, "out", "roles"));
    const r = spawnSync("ansible-playbook", ["-i", "localhost,", "-c", "local", "play.yml"], { cwd: dir, encoding: "utf8", env: { ...process.env, ...paths, ANSIBLE_LOCAL_TEMP: path.join(dir, "tmp") } });
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include("role hello_role ran");
    expect(r.stdout).to.include("hello galley");
    // Installing again finds everything there (a converge runs it every time).
    await installRequirements(path.join(dir, "requirements.yml"), path.join(dir, "out"), {}, 60_000, new InstanceLog(path.join(dir, "state")));
  });

  it("fails naming the requirements file and what ansible-galaxy said", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-galaxy-"));
    writeFileSync(path.join(dir, "requirements.yml"), "collections:\n  - { name: /nonexistent/collection, type: dir }\n");
    const err = await installRequirements(path.join(dir, "requirements.yml"), path.join(dir, "out"), {}, 60_000, new InstanceLog(dir)).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/installing the collections of .*requirements\.yml failed \(ansible-galaxy collection install -r .*exit code 1\); last output:\n[^]*nonexistent/);
  });
});

describe("puppet apply's wrapper (bash, with a stub puppet)", () => {
  // The sandbox goes to a scratch folder, not the instance's .galley folder.
  const plan = { ...planOf("fixtures/puppet/galley.yml", "static-puppet-debian-12"), stateDir: mkdtempSync(path.join(os.tmpdir(), "galley-puppet-state-")) };
  const puppet = new PuppetProvisioner();
  const facts = { node: plan.nodes[1]!, ip: "10.0.0.3", peers: { infra0: "10.0.0.2", infra1: "10.0.0.3", infra2: "10.0.0.4" } };

  /**
   * Runs the node command with a `puppet` that prints `output` and exits `code`; returns what it left.
   * `installed: false`: no puppet at first, but an apt-get that installs it (and a systemctl that notes
   * what it was asked).
   */
  function apply(output: string, code: number, { installed = true, p = puppet, pl = plan } = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-puppet-"));
    cpSync(p.source(pl), path.join(dir, "provision"), { recursive: true });
    mkdirSync(path.join(dir, "bin"));
    const stub = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), `#!/bin/bash\n${text}`);
      chmodSync(path.join(dir, name), 0o755);
    };
    stub("puppet-stub", `echo "$@" > ${dir}/args\ncat <<'OUT'\n${output}\nOUT\nexit ${code}\n`);
    if (installed) cpSync(path.join(dir, "puppet-stub"), path.join(dir, "bin", "puppet"));
    stub("bin/apt-get", `echo "apt-get $*" >> ${dir}/apt\n[ "$1" = update ] || cp ${dir}/puppet-stub ${dir}/bin/puppet\n`);
    stub("bin/systemctl", `echo "systemctl $*" >> ${dir}/apt\n`);
    const env = { ...p.environment(pl, facts, dir), PATH: `${dir}/bin:${process.env.PATH}` };
    const r = spawnSync("bash", ["-c", `set -eo pipefail\n${p.runCommand(pl, dir)}`], { encoding: "utf8", env });
    const read = (f: string) => {
      try {
        return readFileSync(path.join(dir, f), "utf8");
      } catch {
        return "";
      }
    };
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, changes: read("changes").split("\n").filter(Boolean), args: read("args").trim(), facts: JSON.parse(read("facts.d/galley.json") || "null"), apt: read("apt"), dir };
  }

  it("installs Debian's puppet-agent with apt when the node has none, and disables its agent daemon", () => {
    const r = apply("Notice: Applied catalog in 1.00 seconds", 0, { installed: false });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.apt.split("\n").filter(Boolean)).to.deep.equal([
      "apt-get update -qq",
      "apt-get install -y -qq --no-install-recommends puppet-agent",
      "systemctl disable --now puppet.service",
    ]);
    expect(r.stdout).to.match(/^installed Debian's puppet-agent in \d+ s$/m);
    expect(r.args).to.match(/^apply --detailed-exitcodes/);
  });

  it("with install: false, a node without puppet fails saying what to bake into the box", () => {
    const pl = { ...plan, provisioner: { ...plan.provisioner, install: false } } as typeof plan;
    const r = apply("", 0, { installed: false, p: new PuppetProvisioner(), pl: { ...pl, stateDir: mkdtempSync(path.join(os.tmpdir(), "galley-puppet-state-")) } });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include("infra1: no puppet on this node, and provisioner.install is false: bake Debian's puppet-agent into the box");
    expect(r.apt).to.equal("");
  });

  it("records one change per resource event and succeeds on exit code 2 (changes)", () => {
    const r = apply([
      "Notice: Compiled catalog for infra1 in environment production in 0.1 seconds",
      "Notice: /Stage[main]/Fleet_node/File[/etc/systemd/system/etcd.service]/content: content changed '{md5}a' to '{md5}b'",
      "Info: /Stage[main]/Fleet_node/File[/etc/systemd/system/etcd.service]: Scheduling refresh of Service[etcd]",
      "Notice: /Stage[main]/Fleet_node/Service[etcd]: Triggered 'refresh' from 1 event",
      "Notice: Applied catalog in 1.00 seconds",
    ].join("\n"), 2);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.changes).to.deep.equal([
      "Fleet_node/File[/etc/systemd/system/etcd.service]/content: content changed '{md5}a' to '{md5}b'",
      "Fleet_node/Service[etcd]: Triggered 'refresh' from 1 event",
    ]);
    expect(r.args).to.equal(`apply --detailed-exitcodes --color=false --pluginfactdest=${r.dir}/facts.d --modulepath=${r.dir}/provision/modules/0 ${r.dir}/provision/manifests/site.pp`);
  });

  it("gives the node's attributes and Galley's facts to facter as an external JSON fact file", () => {
    const r = apply("Notice: Applied catalog in 1.00 seconds", 0);
    expect(r.status).to.equal(0);
    expect(r.changes).to.deep.equal([]);
    expect(r.facts).to.deep.equal(JSON.parse(JSON.stringify(factsFor(plan, facts, r.dir))));
    expect(r.facts).to.deep.include({ galley_node_name: "infra1", galley_node_index: 1, galley_node_ip: "10.0.0.3", galley_node_count: 3, etcd: { enable_v2: true, client_port: 2379, peer_port: 2380 } });
  });

  it("counts exit code 2 as a change even when no resource event was logged", () => {
    expect(apply("Notice: Applied catalog in 1.00 seconds", 2).changes).to.deep.equal(["puppet apply reported changes (exit code 2) but logged no resource event"]);
  });

  it("fails with Puppet's exit code, naming the first resource that failed as the step", () => {
    const r = apply("Error: /Stage[main]/Main/Exec[refuse infra1]/returns: change from 'notrun' to ['0'] failed: sh returned 3", 4);
    expect(r.status).to.equal(4);
    expect(r.stdout).to.match(/^--- Main\/Exec\[refuse infra1\]\/returns$/m);
    expect(r.stderr).to.match(/infra1: puppet apply site\.pp failed with exit code 4/);
  });
});
