// Converge timings: the lines the instance log receives during a converge become one line saying where
// the seconds went, per step on the slowest node, with the waits the provisioning reported. The
// helpers' own timing lines (wait_for, timed in the fixture's lib.sh and the shipped galley.sh) are
// produced by running them in bash here, so a change to their wording that the parser no longer reads
// fails this test, not a user's timings.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { PhaseClock, StepTimings } from "../../src/util/step-timings.ts";

const LIBS = {
  "fixture lib.sh": path.resolve(import.meta.dirname, "../../../fixtures/fleet-cluster/lib.sh"),
  "galley.sh (shipped)": path.resolve(import.meta.dirname, "../../lib/galley.sh"),
};

/** Feeds a log: [ms since converge start, source, text]. */
function feed(lines: [number, string, string][]): StepTimings {
  const t = new StepTimings(1000);
  for (const [at, source, text] of lines) t.line(source, text, 1000 + at);
  return t;
}

describe("converge step timings", () => {
  const log: [number, string, string][] = [
    [400, "infra0", "$ : > /var/lib/galley/changes && bash /var/lib/galley/provision/provision.sh"],
    [900, "infra1", "$ : > /var/lib/galley/changes && bash /var/lib/galley/provision/provision.sh"],
    [1000, "infra0", "--- 10-packages"],
    [1100, "infra1", "--- 10-packages"],
    [1200, "infra0", "--- 30-docker"],
    [1400, "infra1", "--- 30-docker"],
    [2100, "infra0", "waited 0.70 s for docker daemon"],
    [3300, "infra1", "waited 1.90 s for docker daemon"],
    [3700, "infra1", "took 0.35 s to build the busybox image"],
    [3800, "infra1", "changed: built busybox image from busybox-static"],
    [2500, "infra0", "exit 0 after 2100 ms"],
    [4000, "infra1", "exit 0 after 3100 ms"],
    [4100, "infra0 cluster", "$ : > /var/lib/galley/cluster-changes && bash /var/lib/galley/provision/cluster.sh"],
    [5600, "infra0 cluster", "waited 1.20 s for etcd on this node to be healthy (quorum)"],
    [7100, "infra0 cluster", "exit 0 after 3000 ms"],
  ];

  it("times each step on its slowest node, with the waits and work the provisioning reported in it", () => {
    const reports = feed(log).reports();
    const find = (kind: string, name: string) => reports.find((r) => r.kind === kind && r.name === name);
    expect(find("step", "upload")).to.deep.equal({ kind: "step", name: "upload", ms: 900, node: "infra1" });
    expect(find("step", "10-packages")).to.include({ ms: 300, node: "infra1" });
    expect(find("step", "30-docker")).to.include({ ms: 2600, node: "infra1" });
    expect(find("wait", "30-docker: docker daemon")).to.include({ ms: 1900, node: "infra1" });
    expect(find("work", "30-docker: build the busybox image")).to.include({ ms: 350, node: "infra1" });
    expect(find("step", "cluster")).to.include({ ms: 3000, node: "infra0" });
    expect(find("wait", "cluster: etcd on this node to be healthy (quorum)")).to.include({ ms: 1200 });
  });

  it("summarises in one line, saying how much of the converge was waiting", () => {
    const summary = feed(log).summary(7200);
    expect(summary.split("\n")).to.have.length(1);
    expect(summary).to.equal(
      "upload 0.9 · 10-packages 0.3 · 30-docker 2.6 (waited 1.9 for docker daemon; took 0.3 to build the busybox image) · " +
        "cluster 3.0 (waited 1.2 for etcd on this node to be healthy (quorum)) — waiting 3.1 s of 7.2 s (seconds on the slowest node of each part)",
    );
  });

  it("ignores lines of runs it did not see start, and output after a run's exit", () => {
    const t = feed([
      [10, "infra0", "--- 10-packages"],
      [20, "infra0", "waited 9.00 s for nothing"],
      [30, "infra1", "$ bash provision.sh"],
      [40, "infra1", "exit 1 after 10 ms"],
      [50, "infra1", "--- 20-late"],
    ]);
    expect(t.reports().map((r) => r.name)).to.deep.equal(["upload"]);
  });

  it("times create's phases by the driver's progress messages, counting a phase's own progress as that phase", () => {
    const c = new PhaseClock();
    c.mark("box fleet-node", 0);
    c.mark("booting 3 nodes", 500);
    c.mark("waiting for systemd on 3 boxes", 2500);
    c.mark("installing root's SSH key", 6000);
    expect(c.summary(6200)).to.equal("box fleet-node 0.5 · booting 3 nodes 2.0 · waiting for systemd on 3 boxes 3.5 · installing root's SSH key 0.2");
    const p = new PhaseClock();
    p.mark("provisioned 1/3 nodes", 0);
    p.mark("provisioned 2/3 nodes", 100);
    expect(p.summary(300)).to.equal("provisioned 1/3 nodes 0.3");
  });

  for (const [name, lib] of Object.entries(LIBS)) {
    it(`reads the timing lines ${name}'s wait_for and timed print`, () => {
      const script = `. '${lib}'
        GALLEY_NODE_NAME=infra0 GALLEY_STEP=30-docker
        echo "--- 30-docker"
        f=$(mktemp); poll() { echo . >> "$f"; [ "$(wc -l < "$f")" -ge 3 ]; }  # polls run in a subshell
        wait_for "the third poll" 10 poll || exit 9
        work() { sleep 0.3; }
        timed "sleep a little" work
        wait_for "never" 1 false && exit 8
        rm -f "$f"
        echo "exit 0 after 1 ms"`;
      const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^waited \d+\.\d\d s for the third poll$/m);
      expect(r.stdout).to.match(/^took 0\.[3-9]\d s to sleep a little$/m);
      expect(r.stdout).not.to.match(/for never/); // a wait that timed out is no "waited" line
      const t = new StepTimings(0);
      t.line("infra0", "$ bash provision.sh", 0);
      for (const l of r.stdout.trim().split("\n")) t.line("infra0", l, 100);
      const inner = t.reports().filter((x) => x.kind !== "step").map((x) => `${x.kind} ${x.name}`);
      expect(inner).to.deep.equal(["wait 30-docker: the third poll", "work 30-docker: sleep a little"]);
      // Two polls failed, 0.5 s apart: the wait says so.
      expect(t.reports().find((x) => x.kind === "wait")!.ms).to.be.within(900, 5000);
    });
  }
});
