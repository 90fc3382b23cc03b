// Loaded by verifier-runner.test.ts through the real mocha child (verifiers/mocha/child.ts), not by npm test.
import { expect } from "chai";
import { report, skipIf } from "galley/verifier";

describe("runner sample", function () {
  it("passes and reports a fact", () => {
    report("version.etcd.infra0", "3.4.23");
    expect(1).to.equal(1);
  });
  it("is skipped with a reason", function () {
    skipIf(this, true, "needs a follower");
  });
  it("is skipped without one", function () {
    this.skip();
  });
  it.skip("is marked skip in the file", () => {});
  it("fails with a diff", () => {
    expect({ a: 1 }).to.deep.equal({ a: 2 });
  });
});

describe("runner sample, skipped from a hook", function () {
  before(function () {
    skipIf(this, true, "a single-node cluster");
  });
  it("never runs", () => {});
});
