// The programmatic API as a project's own test suite uses it: the README's example
// (harness/templates/api/cluster.test.ts) runs under plain mocha in a starter project, brings
// hello-debian-12 up in `before`, checks it through the returned cluster (commands and a stop/start
// fault through the in-process engine), and takes it down in `after`; nothing is left. A program that
// starts an instance and never stops it (it exits, or is sent SIGTERM) leaves nothing either.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeStarter } from "../../src/cli/commands/init.ts";
import { galley, leftovers, LeakWatch, markedEnv, repo } from "./helpers.ts";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], cwd: string, onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = markedEnv();
    delete env.GALLEY_CONFIG;
    const child = spawn(process.execPath, ["--conditions=galley-source", "--import", "tsx", ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => {
      stdout += b;
      onStdout?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe("GalleyInstance: Galley inside a project's own tests", function () {
  const instance = "hello-debian-12";
  let project: string;
  let config: string;
  let watch: LeakWatch;

  before(async () => {
    project = mkdtempSync(path.join(os.tmpdir(), "galley-api-"));
    writeStarter(project);
    config = path.join(project, "galley.yml");
    mkdirSync(path.join(project, "test"));
    copyFileSync(path.join(repo, "harness", "templates", "api", "cluster.test.ts"), path.join(project, "test", "cluster.test.ts"));
    // The project's dependencies: galley (this checkout's sources), chai and mocha.
    symlinkSync(path.join(repo, "node_modules"), path.join(project, "node_modules"));
    watch = await LeakWatch.start([project]);
  });

  after(async () => {
    await galley(["--config", config, "destroy"]);
    rmSync(project, { recursive: true, force: true });
  });

  it("runs the README's example under plain mocha: up in before, checks and a fault, down in after", async () => {
    const r = await node([path.join(repo, "node_modules", "mocha", "bin", "mocha.js"), "--timeout", "5m", "test/cluster.test.ts"], project);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.match(/2 passing/);
    expect(await leftovers(instance)).to.deep.equal([]);
    expect(await watch.leftovers()).to.deep.equal([]);
  });

  it("destroys an instance the program never stopped when it exits", async () => {
    const r = await node([path.join(repo, "harness", "test", "e2e", "api-child.ts"), config, "exit"], repo);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain("started web0 web1");
    expect(await leftovers(instance)).to.deep.equal([]);
  });

  it("destroys it on SIGTERM, then ends as SIGTERM would have", async () => {
    let sent = false;
    let hung = false;
    let timer: NodeJS.Timeout | undefined;
    const r = await node([path.join(repo, "harness", "test", "e2e", "api-child.ts"), config, "wait"], repo, (out, kill) => {
      if (!sent && out.includes("started")) {
        sent = true;
        kill("SIGTERM");
        // Destroying two nodes takes seconds: a program still alive after 90 s did not end.
        timer = setTimeout(() => {
          hung = true;
          kill("SIGKILL");
        }, 90_000);
      }
    });
    clearTimeout(timer);
    expect(sent, r.stderr).to.equal(true);
    expect(hung, "the program was still running 90 s after SIGTERM").to.equal(false);
    expect(r.signal, `${r.code} ${r.stderr}`).to.equal("SIGTERM");
    expect(await leftovers(instance)).to.deep.equal([]);
    expect(await watch.leftovers()).to.deep.equal([]);
  });
});
