// galley prune without --all removes this project's boxes even when the state files are gone (a
// killed run, a deleted .galley/), and nothing of another project. It once matched the config's folder
// against the label's hash of it, and so removed nothing.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { galley } from "./helpers.ts";

describe("galley prune", function () {
  const projects: string[] = [];
  const project = (name: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `galley-prune-${name}-`));
    mkdirSync(path.join(dir, "provision"));
    writeFileSync(path.join(dir, "provision", "provision.sh"), "true\n");
    mkdirSync(path.join(dir, "spec"));
    writeFileSync(path.join(dir, "galley.yml"), [
      "driver: docker",
      "provisioner: { name: shell, path: provision, script: provision.sh }",
      "verifier: { name: mocha, suites: spec }",
      "platforms:",
      "  - { name: debian-12, box: debian-12 }",
      "suites:",
      `  - { name: ${name}, nodes: 1 }`,
      "",
    ].join("\n"));
    projects.push(dir);
    return (...args: string[]) => galley(["--config", path.join(dir, "galley.yml"), ...args]);
  };
  after(async () => {
    for (const dir of projects) {
      await galley(["--config", path.join(dir, "galley.yml"), "destroy", "all"]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("removes this project's boxes without their state files, and leaves another project's", async () => {
    const mine = project("prunemine");
    const theirs = project("prunetheirs");
    for (const [run, instance] of [[mine, "prunemine-debian-12"], [theirs, "prunetheirs-debian-12"]] as const) {
      const r = await run("create", instance);
      expect(r.code, r.stderr).to.equal(0);
    }
    rmSync(path.join(projects[0]!, ".galley"), { recursive: true, force: true });
    const r = await mine("prune");
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr + r.stdout).to.match(/docker: removed 2 resources: container galley-prunemine-debian-12-infra0-\w+, network galley-prunemine-debian-12-\w+/);
    // Unfiltered by project (helpers' leftovers() sees only this checkout's): both temp projects count.
    const d = new Docker();
    const of = async (instance: string) => {
      const filters = { label: [`galley.instance=${instance}`] };
      return [...(await d.listContainers({ all: true, filters })).map((c) => c.Names[0]), ...(await d.listNetworks({ filters })).map((n) => n.Name)];
    };
    expect(await of("prunemine-debian-12"), "this project's after prune").to.deep.equal([]);
    expect(await of("prunetheirs-debian-12"), "the other project's after prune").to.have.length(2);
  });
});
