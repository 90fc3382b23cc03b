import { expect } from "chai";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig, parseConfig } from "../../src/config/load.ts";
import { UserError } from "../../src/errors.ts";

const repo = path.resolve(import.meta.dirname, "../../..");

/** A scratch folder with the folders a config refers to, so only the defect under test is reported. */
function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "galley-config-"));
  mkdirSync(path.join(dir, "prov"));
  writeFileSync(path.join(dir, "prov", "provision.sh"), "true\n");
  mkdirSync(path.join(dir, "box"));
  writeFileSync(path.join(dir, "box", "box.yml"), "name: x\ndistribution: bookworm\n");
  mkdirSync(path.join(dir, "specs"));
  return dir;
}

const valid = `driver: docker
provisioner:
  name: shell
  path: prov
verifier:
  name: mocha
  suites: specs
platforms:
  - name: debian-12
    box: box
suites:
  - name: static
    nodes: 3
`;

function errorOf(text: string): string {
  const dir = scratch();
  const file = path.join(dir, "galley.yml");
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("config", () => {
  it("loads the repository's galley.yml", () => {
    const { config } = loadConfig(path.join(repo, "galley.yml"));
    expect(config.suites.map((s) => s.name)).to.include("static");
    expect(config.platforms.map((p) => p.name)).to.include("debian-12");
  });

  it("accepts a minimal valid file", () => {
    const dir = scratch();
    const { config } = parseConfig(valid, path.join(dir, "galley.yml"));
    expect(config.driver).to.deep.equal({ name: "docker" }); // shorthand normalised
  });

  // The catalogue of bad input: each gives one clear line naming file, line and key.
  const cases: [string, string, RegExp][] = [
    ["a wrong type", valid.replace("nodes: 3", "nodes: three"), /galley\.yml:13: suites\[0\]\.nodes: /],
    ["an unknown key", valid.replace("nodes: 3", "nodes: 3\n    nodez: 4"), /galley\.yml:14: suites\[0\]\.nodez: unknown key/],
    ["a node count of 0", valid.replace("nodes: 3", "nodes: 0"), /galley\.yml:13: suites\[0\]\.nodes: a suite has 1 to 16 nodes/],
    ["a node count of 100", valid.replace("nodes: 3", "nodes: 100"), /galley\.yml:13: suites\[0\]\.nodes: a suite has 1 to 16 nodes/],
    ["a missing provisioner folder", valid.replace("path: prov", "path: nowhere"), /galley\.yml:4: provisioner\.path: folder not found: .*nowhere/],
    ["a box folder without box.yml", valid.replace("box: box", "box: specs"), /galley\.yml:10: platforms\[0\]\.box: .*has no box\.yml/],
    ["bad YAML", valid.replace("nodes: 3", "nodes: [3"), /galley\.yml:\d+: invalid YAML: /],
    ["a missing section", valid.replace(/verifier:\n  name: mocha\n  suites: specs\n/, ""), /galley\.yml:1: verifier: is required/],
    ["an unknown driver", valid.replace("driver: docker", "driver: podman"), /galley\.yml:1: driver\.name: .*docker.*vagrant/],
    ["a bad duration", valid.replace("driver: docker", "driver:\n  name: docker\n  boot_timeout: soon"), /galley\.yml:3: driver\.boot_timeout: expected a duration/],
    ["an unknown platform in a suite", valid.replace("nodes: 3", "nodes: 3\n    platforms: [centos-7]"), /galley\.yml:14: suites\[0\]\.platforms\.0: unknown platform centos-7 \(platforms: debian-12\)/],
    ["duplicate suite names", valid + "  - name: static\n    nodes: 1\n", /galley\.yml:14: suites\[1\]\.name: duplicate name static/],
    ["a bad node name", valid.replace("nodes: 3", "nodes:\n      - name: Infra_0"), /galley\.yml:14: suites\[0\]\.nodes\[0\]\.name: expected a host name/],
    ["a duplicate key", valid.replace("nodes: 3", "nodes: 3\n    nodes: 2"), /galley\.yml:\d+: invalid YAML: Map keys must be unique/],
    ["a list where a mapping belongs", "- driver: docker\n", /galley\.yml:1: expected a mapping/],
  ];
  for (const [what, text, pattern] of cases) {
    it(`rejects ${what} with file, line and key`, () => {
      const msg = errorOf(text);
      expect(msg).to.match(pattern);
      expect(msg, "no stack trace").not.to.match(/\n\s+at /);
    });
  }

  it("reports every problem at once", () => {
    const msg = errorOf(valid.replace("nodes: 3", "nodes: 0\n    colour: red"));
    expect(msg.split("\n")).to.have.length(2);
  });

  it("names the missing file and how to choose another", () => {
    expect(() => loadConfig("/nonexistent/galley.yml")).to.throw(UserError, /\/nonexistent\/galley\.yml: config file not found \(choose one with --config FILE or GALLEY_CONFIG\)/);
  });
});
