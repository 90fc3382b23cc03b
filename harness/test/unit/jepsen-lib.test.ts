// The Jepsen suites' own judgement: the set check finds a lost, a duplicated and an invented write, and
// endpoint status reads a member without a leader as following none.
import { expect } from "chai";
import { checkWrites, parseStatus, type Attempt } from "../../../suites/lib/jepsen.ts";

const attempt = (value: string, outcome: Attempt["outcome"]): Attempt => ({ value, node: "infra0", outcome, at: 0, end: 0 });

describe("acknowledged writes: the set check", () => {
  it("passes when every acknowledged write is read once; unacknowledged ones may or may not be there", () => {
    const r = checkWrites([attempt("w0-0", "ok"), attempt("w0-1", "unknown"), attempt("w0-2", "failed")], ["w0-0", "w0-1"]);
    expect(r).to.deep.equal({ acknowledged: 1, lost: [], duplicated: [], unexpected: [] });
  });
  it("names a lost, a duplicated and an invented write", () => {
    const r = checkWrites([attempt("w0-0", "ok"), attempt("w1-0", "ok"), attempt("w2-0", "unknown")], ["w1-0", "w2-0", "w2-0", "w9-9"]);
    expect(r).to.deep.equal({ acknowledged: 2, lost: ["w0-0"], duplicated: ["w2-0"], unexpected: ["w9-9"] });
  });
});

describe("etcd endpoint status", () => {
  it("reads ids as text (uint64), and a member without a leader as following none", () => {
    const lonely = '[{"Endpoint":"http://127.0.0.1:2379","Status":{"header":{"cluster_id":13940930022774698720,"member_id":8507814607764143068,"revision":8,"raft_term":33},"version":"3.4.23","raftIndex":505,"raftTerm":33,"errors":["etcdserver: no leader"]}}]';
    expect(parseStatus("infra0", lonely)).to.deep.equal({ node: "infra0", id: "7611d44f36a93bdc", leader: "0", term: 33, raftIndex: 505, revision: 8 });
    const led = lonely.replace('"raftIndex"', '"leader":8507814607764143068,"raftIndex"');
    expect(parseStatus("infra0", led).leader).to.equal("7611d44f36a93bdc");
  });
});
