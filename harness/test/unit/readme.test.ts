// The README's commands and examples are the ones that are tested: the main job names an instance
// galley.yml has (and the fresh-machine test runs that very line), and the programmatic API example is
// the file e2e/api.test.ts runs, verbatim.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { planInstances } from "../../src/plan/plan.ts";
import { repo } from "../e2e/helpers.ts";

const readme = readFileSync(path.join(repo, "README.md"), "utf8");
const read = (f: string) => readFileSync(path.join(repo, f), "utf8");

describe("README", () => {
  it("gives the main job as one line naming an instance of galley.yml, the line the fresh-machine test runs", () => {
    const line = /^(npm ci && npx galley setup && npx galley test (\S+))\s+# the main job$/m.exec(readme);
    expect(line, "the main job's line").to.not.equal(null);
    const instances = planInstances(loadConfig(path.join(repo, "galley.yml"))).map((p) => p.name);
    expect(instances).to.include(line![2]);
    expect(read("harness/test/e2e/fresh-machine.test.ts")).to.contain(`"cd /work/repo && ${line![1]}"`);
    // .ci/run's last commands (comments aside) are the README's path: npm ci, galley setup, npm test.
    const commands = read(".ci/run").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(commands.slice(-3)).to.deep.equal(["npm ci --no-audit --no-fund", "npx galley setup", "npm test"]);
  });

  it("shows the programmatic API example exactly as it is tested", () => {
    expect(readme).to.contain(`\`\`\`ts\n${read("harness/templates/api/cluster.test.ts")}\`\`\``);
  });
});
