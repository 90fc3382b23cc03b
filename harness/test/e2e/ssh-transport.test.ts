// The SSH transport carries a whole run: uploads, provisioning, cluster phase, verification, exec.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { galley, leftovers, repo } from "./helpers.ts";

describe("the ssh transport", function () {
  const config = ["--config", "fixtures/ssh/galley.yml"];
  after(async () => {
    await galley([...config, "destroy", "all"]);
    expect(await leftovers("over-ssh-debian-12")).to.deep.equal([]);
  });

  it("converges and verifies the fleet cluster over SSH", async () => {
    const r = await galley([...config, "test", "over-ssh-debian-12", "--destroy", "never"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/11 checks passed on over-ssh-debian-12/);
  });

  it("galley exec runs on every node over SSH and reports each node's output and the worst exit code", async () => {
    const r = await galley([...config, "exec", "over-ssh-debian-12", "--", "echo $SSH_CONNECTION | wc -w; hostname"]);
    expect(r.code, r.stderr).to.equal(0);
    for (const n of ["infra0", "infra1", "infra2"]) expect(r.stdout).to.include(`${n}: 4\n${n}: ${n}`);
    const bad = await galley([...config, "exec", "over-ssh-debian-12", "--node", "infra1", "--", "exit 3"]);
    expect(bad.code).to.equal(3);
    // Several arguments are argv: spaces and quotes arrive intact.
    const argv = await galley([...config, "exec", "over-ssh-debian-12", "--node", "infra0", "--", "printf", "%s|", "a b", "c'd"]);
    expect(argv.stdout).to.equal("a b|c'd|\n");
  });

  it("galley login opens an interactive shell on the chosen node (ssh for this transport, under a pseudo-terminal)", () => {
    const bin = path.join(repo, "harness", "bin", "galley.js");
    // script(1) gives the login a terminal; the shell reads its commands from our stdin.
    const r = spawnSync("script", ["-qec", `${process.execPath} ${bin} ${config.join(" ")} login over-ssh-debian-12 infra2`, "/dev/null"], {
      cwd: repo,
      input: "echo logged-in-as-$(whoami)-on-$(hostname)\nexit 0\n",
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stdout, r.stderr).to.include("logged-in-as-root-on-infra2");
  });
});
