// Loaded by verifier-runner.test.ts through MochaVerifier (warm or not), not by npm test: says which
// process ran the check, and what the engine told it.
import { report } from "galley/verifier";

describe("which child", function () {
  it("reports its process and its instance", () => {
    report("pid", String(process.pid));
    report("instance", process.env.GALLEY_INSTANCE ?? "(none)");
    report("warm", process.env.GALLEY_WARM ?? "(unset)");
  });
});
