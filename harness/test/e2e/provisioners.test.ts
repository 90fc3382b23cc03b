// The same cluster, three provisionings: the fleet cluster built by an Ansible playbook and by Puppet
// code must pass the same suites as the shell steps (static-debian-12), pass their idempotence checks
// from Ansible's and Puppet's own results, and fail when broken. Each provisioner converges one 3-node
// cluster; the breaks reuse it (another config in the same folder names the same instance).
// GALLEY_E2E_PROVISIONERS_FULL=1 adds the long form: the whole cluster over SSH with each (two more
// 3-node runs, about 5 minutes more).
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { galley, leftovers, repo } from "./helpers.ts";

const NODES = ["infra0", "infra1", "infra2"];

/** The instance log of the last command (each command starts it anew). */
const lastLog = (dir: string, instance: string) => readFileSync(path.join(dir, ".galley", instance, "galley.log"), "utf8");

describe("the ansible provisioner", function () {
  const instance = "static-ansible-debian-12";
  const dir = path.join(repo, "fixtures/ansible");
  const using = (file: string) => ["--config", `fixtures/ansible/${file}`];

  after(async () => {
    const r = await galley([...using("galley.yml"), "destroy", "all"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("converges the fleet cluster with the playbook, passes the idempotence check and the same suites as the shell steps", async () => {
    const r = await galley([...using("galley.yml"), "test", instance, "--destroy", "never"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/✓ converge again \(idempotence\) static-ansible-debian-12/);
    expect(r.stderr).to.match(/11 checks passed on static-ansible-debian-12/);
    // One recap line per node and run on the console: the first run changed things, the second nothing.
    for (const n of NODES) {
      expect(r.stderr).to.match(new RegExp(`ansible ${n}: ok=\\d+ changed=[1-9]\\d* unreachable=0 failed=0`));
      expect(r.stderr).to.match(new RegExp(`ansible ${n}: ok=\\d+ changed=0 unreachable=0 failed=0`));
    }
    // Ansible's own output goes to the instance log, not the console.
    expect(r.stderr).not.to.match(/TASK \[/);
    expect(lastLog(dir, instance)).to.match(/\[ansible\] TASK \[fleet_node : etcd\.service\]/);
  });

  it("writes an inventory from the instance: Docker's connection to each node's container, attributes, groups, Galley's facts", () => {
    const inv = parse(readFileSync(path.join(dir, ".galley", instance, "ansible", "inventory.yml"), "utf8"));
    const state = JSON.parse(readFileSync(path.join(dir, ".galley", instance, "state.json"), "utf8"));
    for (const n of NODES) {
      const host = inv.all.hosts[n];
      expect(host.ansible_connection).to.equal("community.docker.docker");
      expect(host.ansible_host).to.equal(state.nodes[n].container);
      expect(host.galley_node_ip).to.equal(state.nodes[n].ip);
      expect(host.etcd).to.deep.include({ enable_v2: true, client_port: 2379 });
    }
    expect(Object.keys(inv.all.children.static_ansible.hosts)).to.deep.equal(NODES);
    expect(inv.all.vars.galley_nodes).to.deep.equal(Object.fromEntries(NODES.map((n) => [n, state.nodes[n].ip])));
  });

  it("fails a converge whose task fails on one node, naming that node, the task and what it said", async () => {
    const r = await galley([...using("failing.yml"), "converge", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/node infra1: ansible-playbook fail-on-infra1\.yml failed with exit code 2 \(step task "Refuse infra1" in play "Fail on infra1"\); last output:\n.*non-zero return code\n\(exit code 3\)\ninfra1 is refused/);
    expect(r.stderr).not.to.match(/node infra[02]:/);
  });

  it("fails the idempotence check naming each node and the task that changed, from Ansible's own result", async () => {
    // broken.yml: the same instance with demo_non_idempotent (and the peer-port break, checked below).
    const r = await galley([...using("broken.yml"), "idempotence", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/not idempotent: the second converge changed infra0, infra1, infra2:/);
    for (const n of NODES) {
      expect(r.stderr).to.include(`  ${n}: task "fleet_node : etcd.service" in play "Fleet cluster nodes"`);
      expect(r.stderr).to.include(`  ${n}: task "fleet_node : Stamp /etc/galley-last-converge (demo_non_idempotent)" in play "Fleet cluster nodes"`);
    }
  });

  it("fails verify when the playbook advertises client URLs on the peer port", async () => {
    const r = await galley([...using("broken.yml"), "verify", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/✗ etcd members every advertised client URL answers the client API/);
    expect(r.stderr).to.match(/advertises http:\/\/[\d.]+:2380, whose v2 keys API answers HTTP 404/);
  });
});

describe("the ansible provisioner over the ssh transport", function () {
  const using = ["--config", "fixtures/ansible/ssh.yml"];
  after(async () => {
    await galley([...using, "destroy", "all"]);
    expect(await leftovers("ssh-ansible-debian-12")).to.deep.equal([]);
  });

  it("reaches the node with SSH as root with the instance's key, in the groups of its suite and roles", async () => {
    // connection.yml asserts on the node that it was reached over SSH (it fails over docker exec).
    const r = await galley([...using, "converge", "ssh-ansible-debian-12"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/ansible infra0: ok=2 changed=0 unreachable=0 failed=0/);
  });
});

describe("the puppet provisioner", function () {
  const instance = "static-puppet-debian-12";
  const dir = path.join(repo, "fixtures/puppet");
  const using = (file: string) => ["--config", `fixtures/puppet/${file}`];

  after(async () => {
    const r = await galley([...using("galley.yml"), "destroy", "all"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("converges the fleet cluster with puppet apply, passes the idempotence check and the same suites as the shell steps", async () => {
    const r = await galley([...using("galley.yml"), "test", instance, "--destroy", "never"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/✓ converge again \(idempotence\) static-puppet-debian-12/);
    expect(r.stderr).to.match(/11 checks passed on static-puppet-debian-12/);
    const log = lastLog(dir, instance);
    // The box (boxes/fleet-node-cm) has puppet-agent baked in: nothing is installed at converge.
    expect(log).not.to.match(/installed Debian's puppet-agent/);
    expect(log).to.match(/\[infra0\] \$ bash \/var\/lib\/galley\/provision\/galley-apply\.sh \S+\/site\.pp/);
    // The state keeps the last converge's changes (the idempotence run's: none); the first converge's
    // were Puppet's resource events, as its log shows.
    const state = JSON.parse(readFileSync(path.join(dir, ".galley", instance, "state.json"), "utf8"));
    expect(state.changes).to.deep.equal(Object.fromEntries([...NODES.map((n) => [n, []]), ["(cluster)", []]]));
    expect(log).to.match(/\[infra1\] Notice: \/Stage\[main\]\/Fleet_node\/File\[\/etc\/systemd\/system\/etcd\.service\]\/ensure: defined content/);
  });

  it("fails a converge whose resource fails on one node, naming that node, the resource and what Puppet said", async () => {
    const r = await galley([...using("failing.yml"), "converge", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/node infra1: puppet apply fail-on-infra1\.pp failed with exit code 4 \(step Main\/Exec\[refuse infra1\]\/returns\); last output:/);
    expect(r.stderr).to.match(/infra1 is refused/);
    expect(r.stderr).not.to.match(/node infra[02]:/);
  });

  it("fails the idempotence check naming each node and the resource that changed, from Puppet's own report", async () => {
    const r = await galley([...using("broken.yml"), "idempotence", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/not idempotent: the second converge changed infra0, infra1, infra2:/);
    for (const n of NODES) {
      expect(r.stderr).to.match(new RegExp(`  ${n}: Fleet_node/File\\[/etc/systemd/system/etcd\\.service\\]/content: content changed`));
      expect(r.stderr).to.include(`  ${n}: Fleet_node/Exec[stamp /etc/galley-last-converge (demo_non_idempotent)]/returns: executed successfully`);
    }
  });

  it("fails verify when the manifest advertises client URLs on the peer port", async () => {
    const r = await galley([...using("broken.yml"), "verify", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/✗ etcd members every advertised client URL answers the client API/);
    expect(r.stderr).to.match(/advertises http:\/\/[\d.]+:2380, whose v2 keys API answers HTTP 404/);
  });
});

describe("the whole fleet cluster over the ssh transport, with each provisioner (GALLEY_E2E_PROVISIONERS_FULL=1)", function () {
  const runs = [
    { config: "fixtures/ansible/ssh-cluster.yml", instance: "ssh-cluster-ansible-debian-12" },
    { config: "fixtures/puppet/ssh.yml", instance: "ssh-puppet-debian-12" },
  ];

  before(function () {
    if (process.env.GALLEY_E2E_PROVISIONERS_FULL !== "1") {
      console.log("    (skipped: GALLEY_E2E_PROVISIONERS_FULL=1 runs it, about 5 minutes)");
      this.skip();
    }
  });

  // `--destroy always` cleans up after a failure; this is for a run cut short by mocha's timeout.
  after(async () => {
    if (process.env.GALLEY_E2E_PROVISIONERS_FULL !== "1") return;
    for (const { config, instance } of runs) {
      await galley(["--config", config, "destroy", "all"]);
      expect(await leftovers(instance)).to.deep.equal([]);
    }
  });

  for (const { config, instance } of runs) {
    it(`${instance}: galley test passes, idempotence included, and leaves nothing behind`, async () => {
      const r = await galley(["--config", config, "test", instance, "--destroy", "always"]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(new RegExp(`✓ converge again \\(idempotence\\) ${instance}`));
      expect(r.stderr).to.match(new RegExp(`11 checks passed on ${instance}`));
      expect(await leftovers(instance)).to.deep.equal([]);
      if (instance.includes("ansible")) {
        // The inventory outlives destroy: Ansible was told to use SSH, not Docker's connection.
        const inv = parse(readFileSync(path.join(repo, path.dirname(config), ".galley", instance, "ansible", "inventory.yml"), "utf8"));
        expect(NODES.map((n) => inv.all.hosts[n].ansible_connection)).to.deep.equal(["ssh", "ssh", "ssh"]);
      }
    });
  }
});
