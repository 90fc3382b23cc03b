// The same cluster at other sizes (fixtures/scale/galley.yml). One node: the checks that need a follower
// or a second node are skipped, each saying why, and nothing fails. Five nodes: everything passes,
// including the fault suites (the quorum suite stops two members and crashes a third). Nine and sixteen
// nodes: the four suites pass.
import { expect } from "chai";
import { galley, leftovers } from "./helpers.ts";

const config = ["--config", "fixtures/scale/galley.yml"];

describe("cluster sizes", function () {
  after(async () => {
    await galley([...config, "destroy", "all"]);
  });

  it("1 node: passes, and every check it cannot run is skipped with its reason", async () => {
    const r = await galley([...config, "test", "single-debian-12"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/9 checks passed on single-debian-12, 7 skipped/);
    const reasons = [...r.stderr.matchAll(/^ {4}- (.*?): skipped: (.*)$/gm)].map((m) => m[2]);
    expect([...new Set(reasons)].sort()).to.deep.equal([
      "a majority must remain after cutting one member off: needs at least 3 members",
      "a single-node cluster has no follower",
      "a single-node cluster has no machine to move test.service to",
      "a single-node cluster has no other node to read the journal from over SSH",
      "losing and keeping a quorum needs at least 3 members",
    ]);
    expect(await leftovers("single-debian-12")).to.deep.equal([]);
  });

  it("5 nodes: the four suites and the fault suites pass, nothing skipped", async () => {
    const r = await galley([...config, "test", "five-debian-12"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/16 checks passed on five-debian-12\n/);
    expect(await leftovers("five-debian-12")).to.deep.equal([]);
  });

  for (const [name, n] of [["nine", 9], ["sixteen", 16]] as const) {
    it(`${n} nodes: the four suites pass`, async () => {
      const r = await galley([...config, "test", `${name}-debian-12`]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(new RegExp(`11 checks passed on ${name}-debian-12\\n`));
      expect(await leftovers(`${name}-debian-12`)).to.deep.equal([]);
    });
  }
});
