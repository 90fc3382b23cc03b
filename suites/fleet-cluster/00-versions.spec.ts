// Which etcd and fleet each node really runs, taken from the running processes, not from what was
// installed: the versions the programs say (etcd's /version too), the Go module compiled into each
// binary, and the sha256 of the running executable. Reported as <kind>.<artifact>.<program>.<node>
// (see harness/src/matrix/versions.ts), so `galley matrix` can compare them with what each cell asked
// for; here, each daemon and client must be the binary of its configured artifact.
import { expect } from "chai";
import { attach, type Cluster, type Node, report, retry, skipIf } from "galley/verifier";
import { factName, probeCommand, probeUnit, type FactKind, type Probe } from "galley/verifier";
import { ports, type FleetAttributes } from "../lib/expected.ts";

/** The programs of each artifact this fixture installs: daemons by their unit, clients by command name. */
const PROGRAMS = [
  { artifact: "etcd", program: "etcd", probe: (n: Node) => probeUnit(n, "etcd.service") },
  { artifact: "etcd", program: "etcdctl", probe: (n: Node) => probeCommand(n, "etcdctl", "version", "ETCDCTL_API=3") },
  { artifact: "fleet", program: "fleetd", probe: (n: Node) => probeUnit(n, "fleet.service") },
  { artifact: "fleet", program: "fleetctl", probe: (n: Node) => probeCommand(n, "fleetctl") },
];

describe("versions", function () {
  let cluster: Cluster;
  /** node → program → probe, filled by the first check. */
  const probes = new Map<string, Map<string, Probe>>();
  before(async () => {
    cluster = await attach();
  });
  after(() => cluster?.close());

  const fact = (kind: FactKind, artifact: string, program: string, node: Node, value: string) =>
    report(factName(kind, artifact, program, node.name), value);

  it("every node says which etcd (server, cluster, etcdctl) and fleet (fleetd, fleetctl) it runs, with the Go module and sha256 of each running binary", async () => {
    const { client } = ports(cluster);
    await cluster.each(async (node) => {
      // The programs are probed at once (independent reads), then reported in a fixed order.
      const found = await Promise.all(PROGRAMS.map(async (p) => {
        let probe: Probe | undefined;
        // A daemon that is (re)starting has no process for a moment: probe what runs once it runs.
        await retry(async () => {
          probe = await p.probe(node);
        }, { what: `the running ${p.program} on ${node.name}`, timeoutMs: 30_000 });
        return probe!;
      }));
      const mine = new Map<string, Probe>();
      PROGRAMS.forEach((p, i) => {
        const probe = found[i]!;
        expect(probe.version, `the version ${p.program} on ${node.name} printed: ${probe.versionOutput}`).to.match(/^\d+\.\d+\.\d+/);
        mine.set(p.program, probe);
        fact("version", p.artifact, p.program, node, probe.version!);
        fact("module", p.artifact, p.program, node, probe.module);
        fact("sha256", p.artifact, p.program, node, probe.sha256);
        fact("exe", p.artifact, p.program, node, probe.exe);
      });
      probes.set(node.name, mine);
      // The server's own word, and the cluster version its members agreed on. That starts low ("not_decided",
      // or 3.0.0 on etcd 3.6) and the leader raises it to the members' common series within seconds: wait
      // for that series, then report what was seen, risen or not (the matrix compares it with the asked one).
      const series = (x?: string) => x?.split(".").slice(0, 2).join(".");
      let v: { etcdserver?: string; etcdcluster?: string } = {};
      const risen = await retry(async () => {
        v = JSON.parse(await node.succeed(`curl -fsS http://127.0.0.1:${client}/version`));
        return series(v.etcdcluster) === series(v.etcdserver);
      }, { what: `the cluster version in /version on ${node.name} to reach the server's series`, timeoutMs: 30_000 }).then(() => true, () => false);
      if (!risen) report(`note.etcd.cluster.${node.name}`, `cluster version still ${v.etcdcluster} after 30 s (server ${v.etcdserver})`);
      fact("version", "etcd", "server", node, v.etcdserver ?? "?");
      fact("series", "etcd", "cluster", node, v.etcdcluster ?? "?");
    });
  });

  it("each etcd and fleet program a node runs is the binary of its configured artifact (sha256 of the running executable)", async function () {
    const configured = PROGRAMS.filter((p) => cluster.artifacts[p.artifact]);
    skipIf(this, !configured.length, "no etcd or fleet artifact is configured: the box's own packages have no artifact to compare with");
    expect([...probes.keys()].sort(), "nodes probed by the previous check").to.deep.equal(cluster.nodes.map((n) => n.name).sort());
    const differ: string[] = [];
    await cluster.each(async (node) => {
      await Promise.all(configured.map(async (p) => {
        const file = `/var/lib/galley/artifacts/${p.artifact}/${p.program}`;
        const r = await node.execute(`sha256sum < ${file} | cut -d' ' -f1`);
        const want = r.exitCode === 0 ? r.stdout.trim() : `(no ${file}: ${r.stderr.trim()})`;
        const running = probes.get(node.name)!.get(p.program)!;
        const short = (h: string) => (/^[0-9a-f]{64}$/.test(h) ? `sha256 ${h.slice(0, 12)}…` : h);
        if (running.sha256 !== want) differ.push(`${node.name} runs ${running.exe} (${short(running.sha256)}), not ${file} (${short(want)})`);
      }));
    });
    differ.sort();
    expect(differ, "programs that are not their artifact's binary").to.deep.equal([]);
  });
});
