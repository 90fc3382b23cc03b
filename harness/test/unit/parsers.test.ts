import { expect } from "chai";
import { parseEndpointStatus, parseLeaderStats, parseMemberList, parseMemberListJson } from "../../../suites/lib/etcd.ts";
import { fullFlag, parseEnvironment, parseJournal, parseJournalUnix, parseMachines, parseMetadata, parseUnits, parseVersion } from "../../../suites/lib/fleet.ts";

// Outputs as the article shows them (addresses from its text, only parsed here, never contacted),
// and as etcd 3.4 and fleet 1.0 print them.
describe("etcdctl output", () => {
  it("parses the v2 member list, including the article's defect (clients on the peer port)", () => {
    const members = parseMemberList(
      "53d215869e907e0c: name=infra1 peerURLs=http://192.168.33.10:2380 clientURLs=http://192.168.33.10:2380,http://192.168.33.10:7001\n" +
        "a7e311a6b89e188f: name=infra0 peerURLs=http://192.168.33.9:2380 clientURLs=http://192.168.33.9:2380,http://192.168.33.9:7001 isLeader=true\n",
    );
    expect(members[0]).to.deep.equal({
      id: "53d215869e907e0c", name: "infra1", started: true,
      peerURLs: ["http://192.168.33.10:2380"], clientURLs: ["http://192.168.33.10:2380", "http://192.168.33.10:7001"], isLeader: undefined,
    });
    expect(members[1]!.isLeader).to.equal(true);
  });

  it("parses an unstarted v2 member", () => {
    expect(parseMemberList("8211f1d0f64f3269[unstarted]: peerURLs=http://10.0.0.3:2380")[0]).to.include({ started: false, name: "" });
  });

  it("parses the v3 simple member list (with and without the learner column)", () => {
    const [a, b] = parseMemberList(
      "c87d2569598c8e66, started, infra0, http://10.1.0.2:2380, http://10.1.0.2:2379, false\n" +
        "1d2c3b4a5f6e7d8c, unstarted, , http://10.1.0.3:2380, \n".replace(", \n", ", ,\n"),
    );
    expect(a).to.deep.equal({ id: "c87d2569598c8e66", started: true, name: "infra0", peerURLs: ["http://10.1.0.2:2380"], clientURLs: ["http://10.1.0.2:2379"] });
    expect(b!.started).to.equal(false);
  });

  it("rejects output it does not understand, quoting it", () => {
    expect(() => parseMemberList("Error: context deadline exceeded")).to.throw(/unrecognised `etcdctl member list` line: Error: context deadline exceeded/);
  });

  it("parses endpoint status (3.4 columns) and finds the leader", () => {
    const s = parseEndpointStatus(
      "http://10.1.0.2:2379, c87d2569598c8e66, 3.4.23, 20 kB, true, false, 2, 9, 9, \n" +
        "http://10.1.0.3:2379, 1d2c3b4a5f6e7d8c, 3.4.23, 20 kB, false, false, 2, 9, 9, \n",
    );
    expect(s.filter((x) => x.isLeader).map((x) => x.id)).to.deep.equal(["c87d2569598c8e66"]);
  });

  it("parses endpoint status JSON with uint64 ids exactly (3.6 layout)", () => {
    const json = '[{"Endpoint":"http://10.1.0.2:2379","Status":{"header":{"cluster_id":17237436991929493444,"member_id":11040313578013492019,"revision":5,"raft_term":2},"version":"3.6.16","storageVersion":"3.6.0","dbSize":20480,"leader":11040313578013492019,"raftIndex":9}},' +
      '{"Endpoint":"http://10.1.0.3:2379","Status":{"header":{"cluster_id":17237436991929493444,"member_id":2096485624766466956,"revision":5,"raft_term":2},"version":"3.6.16","dbSize":20480,"leader":11040313578013492019,"raftIndex":9}}]';
    const s = parseEndpointStatus(json);
    expect(s.map((x) => [x.endpoint, x.id, x.isLeader, x.leader])).to.deep.equal([
      ["http://10.1.0.2:2379", "993712b4826a8333", true, "993712b4826a8333"],
      ["http://10.1.0.3:2379", "1d1836916ceb0b8c", false, "993712b4826a8333"],
    ]);
  });

  it("parses the article's /v2/stats/leader", () => {
    const stats = parseLeaderStats(`{"leader":"a7e311a6b89e188f","followers":{"53d215869e907e0c":{"latency":{"current":0.44},"counts":{"fail":216,"success":6068}}}}`);
    expect(stats.leader).to.equal("a7e311a6b89e188f");
    expect(stats.followers["53d215869e907e0c"]!.counts.success).to.equal(6068);
    expect(() => parseLeaderStats('{"message":"not current leader"}')).to.throw(/without leader\/followers/);
  });
});

describe("etcdctl member list -w json", () => {
  // Real output of etcd 3.4.23 on a Galley node; ids are uint64 beyond a double's precision.
  const text = '{"header":{"cluster_id":17688128618915459947,"member_id":6783697541948155394,"raft_term":2},"members":[' +
    '{"ID":6783697541948155394,"name":"infra1","peerURLs":["http://192.168.64.3:2380"],"clientURLs":["http://192.168.64.3:2379"]},' +
    '{"ID":16387919910763369969,"peerURLs":["http://192.168.64.4:2380"]}]}';

  it("reads the answering member's cluster and member ids exactly, and each member", () => {
    const view = parseMemberListJson(text);
    expect(view.clusterId).to.equal(17688128618915459947n.toString(16));
    expect(view.memberId).to.equal(6783697541948155394n.toString(16));
    expect(view.members).to.deep.equal([
      { id: 6783697541948155394n.toString(16), name: "infra1", started: true, peerURLs: ["http://192.168.64.3:2380"], clientURLs: ["http://192.168.64.3:2379"] },
      { id: 16387919910763369969n.toString(16), name: "", started: false, peerURLs: ["http://192.168.64.4:2380"], clientURLs: [] },
    ]);
  });

  it("refuses output without a header, quoting it", () => {
    expect(() => parseMemberListJson("Error: context deadline exceeded")).to.throw(/unrecognised `etcdctl member list -w json` output: Error: context deadline/);
  });
});

describe("fleetctl output", () => {
  it("parses the article's list-machines -l", () => {
    const m = parseMachines(
      "2993aec374654ef39d8b408f74716c0e\t192.168.33.10\taz=eu-central-1b,region=eu-central-1\n" +
        "37568b8d74794355b936643f790b070a\t192.168.33.9\taz=eu-central-1a,region=eu-central-1\n",
    );
    expect(m).to.have.length(2);
    expect(m[0]).to.deep.equal({ id: "2993aec374654ef39d8b408f74716c0e", ip: "192.168.33.10", metadata: { az: "eu-central-1b", region: "eu-central-1" } });
  });

  it("parses a machine without metadata", () => {
    expect(parseMachines("2993aec3...\t10.0.0.2\t-\n")[0]!.metadata).to.deep.equal({});
  });

  it("parses list-units (short and full machine ids)", () => {
    expect(parseUnits("test.service\t2993aec3.../192.168.33.10\tactive\trunning\n")[0]).to.deep.equal({
      unit: "test.service", machineId: "2993aec3", ip: "192.168.33.10", active: "active", sub: "running",
    });
    expect(parseUnits("test.service\t2993aec374654ef39d8b408f74716c0e/10.0.0.2\tactivating\tstart-pre\n")[0]!.machineId).to.have.length(32);
  });

  it("parses the article's journal lines and skips the rest", () => {
    const lines = parseJournal(
      "-- Journal begins at Tue 2014-11-04 --\n" +
        "Nov 04 11:41:37 peer-centos7.vagrantup.com docker[4639]: Hello World\n" +
        "Nov  4 11:41:38 infra1 docker[4639]: Hello World\n",
    );
    expect(lines).to.deep.equal([
      { host: "peer-centos7.vagrantup.com", ident: "docker", message: "Hello World" },
      { host: "infra1", ident: "docker", message: "Hello World" },
    ]);
  });

  it("parses short-unix journal lines with their time", () => {
    expect(parseJournalUnix("1795661077.665012 infra1 docker[478]: Hello World\n-- No entries --\n")).to.deep.equal([
      { at: 1795661077.665012, host: "infra1", ident: "docker", message: "Hello World" },
    ]);
  });

  it("reads a unit's Environment= list and fleet metadata", () => {
    const env = parseEnvironment('FLEET_PUBLIC_IP=192.168.64.3 FLEET_METADATA=region=eu-central-1,az=eu-central-1b "X=a b" FLEET_AGENT_TTL=30s');
    expect(env).to.include({ FLEET_PUBLIC_IP: "192.168.64.3", FLEET_METADATA: "region=eu-central-1,az=eu-central-1b", FLEET_AGENT_TTL: "30s" });
    expect(parseMetadata(env.FLEET_METADATA)).to.deep.equal({ region: "eu-central-1", az: "eu-central-1b" });
    expect(parseMetadata("-")).to.deep.equal({});
  });

  it("knows each version's flags", () => {
    expect(parseVersion("fleetctl version 1.0.0\n")).to.equal("1.0.0");
    expect(fullFlag("1.0.0")).to.equal("--full");
    expect(fullFlag("0.8.3")).to.equal("-l");
  });
});

describe("docker session answers", () => {
  it("reads an answer, a request read too late, and an answer whose output was lost", async () => {
    const { parseAnswer, sessionCommand } = await import("../../src/transports/docker-session.ts");
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    expect(parseAnswer(`7 3 ${b64("out\n")} ${b64("err\n")}`)).to.deep.equal({ id: 7, outcome: { exitCode: 3, stdout: "out\n", stderr: "err\n" } });
    expect(parseAnswer("8 0  ")).to.deep.equal({ id: 8, outcome: { exitCode: 0, stdout: "", stderr: "" } });
    expect(parseAnswer("9 x")).to.deep.equal({ id: 9, outcome: "not-run" });
    expect(parseAnswer("10 lost 2")?.outcome).to.include({ exitCode: -1 }).and.have.property("stderr").that.match(/exit 2/);
    expect(parseAnswer("bash: line 3: something"), "a stray line of the shell's own").to.equal(undefined);
    expect(sessionCommand("echo 'hi'", 2_500, { A: "it's" })).to.equal(`'env' 'A=it'\\''s' 'timeout' '--kill-after=5' '3' 'bash' '-lc' 'set -eo pipefail\necho '\\''hi'\\'''`);
  });
});
