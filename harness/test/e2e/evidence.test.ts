// Evidence a person can read: a deliberately failing verify (fleetd frozen on one node) writes a bundle
// for every node — journals, failed units, provisioning log, network state and faults, the container's
// description; the failure message names it and the JUnit report attaches it. `galley collect` does the
// same on demand, also for a node that is down and one that is frozen.
import { expect } from "chai";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

const instance = "static-debian-12";
const dir = path.join(repo, ".galley", instance);
const evidence = (...p: string[]) => path.join(dir, "evidence", ...p);
const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);

describe("evidence when a run fails", function () {
  before(async () => {
    const r = await galley(["converge", instance]);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(async () => {
    await galley(["destroy", instance]);
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("a failing verify writes every node's bundle, prints its path and attaches it in junit.xml", async () => {
    for (const args of [["pause-unit", "infra1", "fleet.service"]]) {
      const f = await galley(["fault", instance, ...args]);
      expect(f.code, f.stderr).to.equal(0);
    }
    const r = await galley(["verify", instance]);
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/evidence: \.galley\/static-debian-12\/evidence\/ \(infra0, infra1, infra2: journal/);
    expect(r.stderr).to.match(/report: \.galley\/static-debian-12\/report\.html/);
    for (const node of ["infra0", "infra1", "infra2"]) {
      expect(existsSync(evidence(node, "console.log")), `${node}/console.log (docker logs: what systemd printed, often nothing)`).to.equal(true);
      for (const f of ["journal.export", "journal.txt", "docker-inspect.json", "network.txt", "provision.log", "faults.txt"]) {
        expect(size(evidence(node, f)), `${node}/${f}`).to.be.above(0);
      }
      // The whole journal, from boot: the provisioning's units are in it.
      expect(readFileSync(evidence(node, "journal.txt"), "utf8"), `${node}'s journal`).to.match(/etcd/);
      expect(readFileSync(evidence(node, "journal.export"), "utf8")).to.match(/^__CURSOR=/m);
      expect(readFileSync(evidence(node, "provision.log"), "utf8"), `${node}'s provisioning log`).to.match(/\[infra\d\] /);
    }
    expect(readFileSync(evidence("infra1", "faults.txt"), "utf8")).to.match(/faults in effect on infra1: paused:fleet\.service/);
    expect(readFileSync(evidence("infra1", "failed-units.txt"), "utf8"), "systemctl status in the failed-units file").to.be.a("string");
    expect(readFileSync(evidence("infra1", "failed-units.txt"), "utf8")).to.be.a("string");
    expect(readFileSync(evidence("infra0", "network.txt"), "utf8")).to.match(/# ip -br address[^]*eth0/);
    const junit = readFileSync(path.join(dir, "junit.xml"), "utf8");
    for (const node of ["infra0", "infra1", "infra2"]) expect(junit).to.include(`[[ATTACHMENT|${evidence(node, "journal.txt")}]]`);
    expect(junit.match(/<failure /g)!.length, "failed checks").to.be.above(0);
    expect(junit.match(/<system-out>/g)!.length, "failed checks with attachments").to.equal(junit.match(/<failure /g)!.length);
  });

  it("galley collect reads a crashed and a frozen node too (journals from their files, the frozen one's network from the host)", async () => {
    for (const args of [["heal"], ["infra0", "pause"], ["infra2", "crash"]]) {
      const f = await galley(["fault", instance, ...args]);
      expect(f.code, f.stderr).to.equal(0);
    }
    const r = await galley(["collect", instance]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/evidence\/infra0\/: .*journal\.txt/);
    expect(r.stdout).to.match(/not collected: failed units and systemctl status: the node is paused/);
    expect(readFileSync(evidence("infra0", "journal.txt"), "utf8")).to.match(/etcd/);
    expect(readFileSync(evidence("infra0", "faults.txt"), "utf8")).to.match(/faults in effect on infra0: paused\n/);
    expect(readFileSync(evidence("infra0", "network.txt"), "utf8")).to.match(/# ip route/);
    expect(JSON.parse(readFileSync(evidence("infra2", "docker-inspect.json"), "utf8")).State.Status, "the crashed node's container").to.equal("exited");
    expect(readFileSync(evidence("infra2", "journal.txt"), "utf8"), "the crashed node's journal").to.match(/etcd/);
    expect(readFileSync(evidence("README.txt"), "utf8")).to.match(/infra2\/:.*journal\.txt[^]*not collected: failed units and systemctl status: the node is exited, exit code 137/);
  });
});
