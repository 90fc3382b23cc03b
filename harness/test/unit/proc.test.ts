// util/proc.ts against this very process: the listing, a parent read from stat, a process that is gone.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { parentOf, procFile, processIds } from "../../src/util/proc.ts";

describe("/proc listing", () => {
  it("lists this process, reads its parent, and says nothing of a process that is gone", () => {
    expect(processIds()).to.include(process.pid);
    expect(parentOf(process.pid)).to.equal(process.ppid);
    expect(procFile(process.pid, "cmdline")?.split("\0")).to.include(process.argv[1]);
    const gone = spawnSync("true").pid!;
    expect(parentOf(gone)).to.equal(undefined);
    expect(processIds()).to.not.include(gone);
  });
});
