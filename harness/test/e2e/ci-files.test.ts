// The CI files Galley ships (harness/templates/ci) and this repository's own workflow: the GitHub
// Actions workflows pass actionlint (built once with Go from the module proxy into Galley's cache, as
// `go install` does), which is shown to reject a broken copy; the GitLab job runs setup and test and
// keeps the JUnit reports and evidence.
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { goForRecipes, recipePath } from "../../src/toolchains/go.ts";
import { cacheDir } from "../../src/util/cache.ts";
import { repo } from "./helpers.ts";

// v1.7.7: the newest actionlint whose go.mod asks no more than the recipes' Go (1.18; later ones want 1.24+).
const ACTIONLINT = "v1.7.7";
const workflows = ["harness/templates/ci/github-actions.yml", ".github/workflows/galley.yml"];

/** actionlint, built once per version into Galley's cache. */
function actionlint(): string {
  const dir = cacheDir("tools", `actionlint-${ACTIONLINT}`);
  const bin = path.join(dir, "actionlint");
  if (existsSync(bin)) return bin;
  // GOBIN: only the binary lands in the cache; modules and build cache are Go's own. The module
  // proxy is the machine's (go env GOPROXY); GOFLAGS from the environment must not change the build.
  execFileSync("go", ["install", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT}`], {
    env: { ...process.env, PATH: recipePath(), GOBIN: dir, GOFLAGS: "", GOTOOLCHAIN: "local", CGO_ENABLED: "0" },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 600_000,
  });
  return bin;
}

describe("CI files: GitHub Actions and GitLab CI", function () {
  let lint: string;
  before(function () {
    if (!goForRecipes()) {
      console.log("    (skipped: actionlint is built with Go, and this machine has none new enough: `npx galley setup` gets one)");
      this.skip();
    }
    lint = actionlint();
  });

  it("the GitHub Actions workflows pass actionlint", () => {
    for (const file of workflows) {
      const r = spawnSync(lint, ["-no-color", file], { cwd: repo, encoding: "utf8" });
      expect(r.status, `${file}:\n${r.stdout}${r.stderr}`).to.equal(0);
    }
  });

  it("actionlint rejects a broken workflow (so a pass above means something)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-actionlint-"));
    try {
      const broken = readFileSync(path.join(repo, workflows[0]!), "utf8")
        .replace("timeout-minutes: 60", "timeout-minute: 60")
        .replace("if: always()", "if: always(")
        .replace("node-version: 20", "node-versions: 20");
      const file = path.join(dir, "broken.yml");
      writeFileSync(file, broken);
      const r = spawnSync(lint, ["-no-color", file], { encoding: "utf8" });
      expect(r.status).to.equal(1);
      expect(r.stdout).to.match(/unexpected key "timeout-minute"/);
      expect(r.stdout).to.match(/node-versions/);
      expect(r.stdout).to.match(/always\(/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every workflow runs galley setup and galley test, and uploads the JUnit reports and evidence even after a failure", () => {
    for (const file of workflows) {
      const wf = parse(readFileSync(path.join(repo, file), "utf8")) as { jobs: Record<string, { steps: { run?: string; uses?: string; if?: string; with?: { path?: string } }[] }> };
      const steps = Object.values(wf.jobs)[0]!.steps;
      const runs = steps.map((s) => s.run ?? "").join("\n");
      expect(runs, file).to.match(/npx galley setup/).and.to.match(/npx galley test/);
      const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
      expect(upload?.if, file).to.equal("always()");
      expect(upload?.with?.path, file).to.contain(".galley/**/junit.xml").and.to.contain(".galley/**/evidence/");
    }
  });

  it("the GitLab job runs setup and test against its Docker service and keeps the JUnit reports and evidence", () => {
    const ci = parse(readFileSync(path.join(repo, "harness/templates/ci/gitlab-ci.yml"), "utf8")) as Record<string, any>;
    const job = ci.galley;
    expect(job.script).to.deep.equal(["npm ci", "npx galley setup", "npx galley test"]);
    expect(job.variables.DOCKER_HOST).to.match(/^tcp:\/\/docker:2375$/);
    expect(job.services[0].alias).to.equal("docker");
    expect(job.artifacts.when).to.equal("always");
    expect(job.artifacts.reports.junit).to.equal(".galley/*/junit.xml");
    expect(job.artifacts.paths).to.include(".galley/*/evidence/");
  });
});
