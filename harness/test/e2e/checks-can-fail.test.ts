// Every check must be able to fail. Each case breaks a converged cluster in one way the old checks let
// pass (a frozen or dead fleetd, a test.service that stopped printing, fleet metadata that was changed
// but never applied, a node in another etcd cluster with the same member names and URLs), expects
// `galley verify` to fail naming the node and the fact, repairs it, and at the end the same cluster
// verifies green again — twice, so a check that leaves state behind cannot pass once and then fail.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

const instance = "static-debian-12";
const breaker = (name: string) => readFileSync(path.join(repo, "harness/test/e2e/breakers", name), "utf8");

async function on(node: string, script: string): Promise<string> {
  const r = await galley(["exec", instance, "--node", node, "--", script]);
  expect(r.code, `${node}: ${script}\n${r.stdout}${r.stderr}`).to.equal(0);
  return r.stdout;
}

async function verifyFails(): Promise<string> {
  const r = await galley(["verify", instance]);
  expect(r.code, `verify should fail; stderr:\n${r.stderr}`).to.equal(10);
  return r.stderr;
}

describe("checks that can fail (a converged cluster, broken one way at a time)", function () {
  before(async () => {
    const r = await galley(["converge", instance]);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(async () => {
    const r = await galley(["destroy", instance]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("passes on the healthy cluster, counting checks per suite", async () => {
    const r = await galley(["verify", instance]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/11 checks passed on static-debian-12\n {4}versions: 2 passed\n {4}etcd members: 3 passed\n {4}fleet machines: 2 passed\n {4}etcd leader stats: 2 passed\n {4}test\.service: 2 passed/);
    const report = JSON.parse(readFileSync(path.join(repo, ".galley", instance, "verify.json"), "utf8"));
    expect(report.suites).to.deep.include({ suite: "fleet machines", passed: 2, failed: 0, skipped: 0 });
    const junit = readFileSync(path.join(repo, ".galley", instance, "junit.xml"), "utf8");
    expect(junit).to.match(/<testsuite name="fleet machines" tests="2" failures="0" skipped="0">/);
  });

  it("a frozen fleetd (SIGSTOP) fails, naming the node", async () => {
    await on("infra1", "kill -STOP $(systemctl show -p MainPID --value fleet.service)");
    try {
      expect(await verifyFails()).to.match(/infra1: fleetd \(pid \d+\) is stopped \(process state T/);
    } finally {
      await on("infra1", "kill -CONT $(systemctl show -p MainPID --value fleet.service)");
    }
  });

  it("a killed fleetd that stays down fails at once, although fleet still lists its machine until the TTL runs out", async () => {
    // A runtime drop-in stops systemd from restarting it: the kill lasts longer than the checks take.
    await on("infra2", "mkdir -p /run/systemd/system/fleet.service.d && printf '[Service]\\nRestart=no\\n' > /run/systemd/system/fleet.service.d/down.conf && systemctl daemon-reload && kill -9 $(systemctl show -p MainPID --value fleet.service)");
    try {
      expect(await verifyFails()).to.match(/infra2: fleet\.service is (failed|inactive)\//);
    } finally {
      await on("infra2", "rm -rf /run/systemd/system/fleet.service.d && systemctl daemon-reload && systemctl reset-failed fleet.service; systemctl start fleet.service");
    }
  });

  it("a test.service that stopped printing (its container frozen, the unit still active) fails, saying how old the last line is", async () => {
    // After the killed-fleetd case fleet may have moved the unit: wait until one node runs it (the old
    // copy is stopped by the returning fleetd), then freeze that one.
    let owner: string | undefined;
    let states = "";
    for (const deadline = Date.now() + 60_000; !owner && Date.now() < deadline; ) {
      states = (await galley(["exec", instance, "--", "systemctl is-active test.service || true"])).stdout;
      const active = [...states.matchAll(/^(infra\d): active$/gm)].map((m) => m[1]!);
      if (active.length === 1 && !/deactivating|activating/.test(states)) owner = active[0];
      else await new Promise((r) => setTimeout(r, 1000));
    }
    expect(owner, `one node running test.service:\n${states}`).to.be.a("string");
    await on(owner!, "docker pause busybox1");
    // The check allows lines up to 5 s old: poll until the newest one on the owner is older than that,
    // or a quick verify (3.6 s on an idle machine) still sees the last line printed before the pause.
    const stale = "last=$(journalctl -u test.service -n 1 -o short-unix | tail -n 1 | cut -d' ' -f1); awk -v now=$(date +%s.%N) -v last=\"$last\" 'BEGIN { exit !(now - last > 6) }'";
    let aged = false;
    for (const deadline = Date.now() + 30_000; !aged && Date.now() < deadline; ) {
      aged = (await galley(["exec", instance, "--node", owner!, "--", stale])).code === 0;
      if (!aged) await new Promise((r) => setTimeout(r, 500));
    }
    expect(aged, `the newest test.service line on ${owner} aged past 6 s after the pause`).to.equal(true);
    try {
      expect(await verifyFails()).to.match(/age in seconds of the newest Hello World from infra\d \(test\.service must keep printing\): expected [\d.]+ to be below 5/);
    } finally {
      await on(owner!, "docker unpause busybox1");
    }
  });

  it("fleet metadata changed in the unit but never applied (no restart) fails, showing both", async () => {
    await on("infra0", "sed -i 's/az=\\([a-z0-9-]*\\)/az=\\1-moved/' /etc/systemd/system/fleet.service && systemctl daemon-reload");
    try {
      const out = await verifyFails();
      expect(out).to.match(/fleetctl list-machines: expected \[.*'infra0 id=\w+ ip=[\d.]+ az=eu-central-1a,region=eu-central-1'.*\] to deeply equal \[.*'infra0 id=\w+ ip=[\d.]+ az=eu-central-1a-moved,region=eu-central-1'/);
    } finally {
      await on("infra0", "sed -i 's/-moved//' /etc/systemd/system/fleet.service && systemctl daemon-reload");
    }
  });

  it("a node whose etcd is a member of another cluster with the same member names and URLs fails, naming the node and both cluster ids", async () => {
    await on("infra2", breaker("rogue-etcd.sh"));
    // On the rogue node itself, the member list looks exactly right: only the ids tell.
    const list = await on("infra2", "ETCDCTL_API=3 etcdctl member list");
    expect(list.split("\n").filter((l) => /, started, infra\d, /.test(l))).to.have.length(3);
    try {
      expect(await verifyFails()).to.match(/cluster id reported by each node's etcd: expected \{ infra0: '(\w+)', infra1: '\1', infra2: '(?!\1)\w+' \}/);
    } finally {
      await on("infra2", breaker("rogue-etcd-undo.sh"));
    }
  });

  it("after the repairs the same cluster verifies green, twice in a row", async () => {
    for (const run of [1, 2]) {
      const r = await galley(["verify", instance]);
      expect(r.code, `verify run ${run}: ${r.stderr}`).to.equal(0);
      expect(r.stderr).to.match(/11 checks passed on static-debian-12/);
    }
  });
});
