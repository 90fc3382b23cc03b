import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { flattenAttributes } from "../../src/config/attribute-env.ts";
import { loadConfig, parseConfig } from "../../src/config/load.ts";
import { deepMerge } from "../../src/config/merge.ts";
import { actionsBetween } from "../../src/instance/fsm.ts";
import { planInstances, selectInstances } from "../../src/plan/plan.ts";

const repo = path.resolve(import.meta.dirname, "../../..");

describe("plan", () => {
  const plans = planInstances(loadConfig(path.join(repo, "galley.yml")));

  it("names instances <suite>-<platform> with nodes infra0…", () => {
    const p = plans.find((x) => x.name === "static-debian-12")!;
    expect(p, "static-debian-12").to.exist;
    expect(p.nodes.map((n) => n.name)).to.deep.equal(["infra0", "infra1", "infra2"]);
    expect(p.stateDir).to.equal(path.join(repo, ".galley", "static-debian-12"));
    expect(p.provisioner.name === "shell" && p.provisioner.path).to.equal(path.join(repo, "fixtures", "fleet-cluster"));
  });

  it("merges attributes defaults < platform < suite < node", () => {
    expect(deepMerge({ a: 1, etcd: { x: 1, y: 1 } }, { etcd: { y: 2 } }, { etcd: { z: 3 }, b: [1] }, { b: [2] }))
      .to.deep.equal({ a: 1, etcd: { x: 1, y: 2, z: 3 }, b: [2] });
    const p = plans.find((x) => x.name === "static-debian-12")!;
    expect(p.nodes[0]!.attributes).to.deep.include({ etcd: { enable_v2: true, client_port: 2379, peer_port: 2380, cluster: "static" } });
  });

  it("selects by exact name, regular expression or all, and lists the names when nothing matches", () => {
    expect(selectInstances(plans, "all")).to.have.length(plans.length);
    expect(selectInstances(plans, "static-debian-12").map((p) => p.name)).to.deep.equal(["static-debian-12"]);
    expect(selectInstances(plans, "^stat").map((p) => p.name)).to.include("static-debian-12");
    expect(() => selectInstances(plans, "nothing-like-it")).to.throw(/no instance matches "nothing-like-it" \(instances: .*static-debian-12/);
  });

  it("flattens attributes into ATTR_ variables for the shell provisioner", () => {
    expect(flattenAttributes({ etcd: { enable_v2: true, client_port: 2379 }, fleet: { metadata: { region: "r" } }, list: ["a", "b"] }))
      .to.deep.equal({ ATTR_ETCD_ENABLE_V2: "true", ATTR_ETCD_CLIENT_PORT: "2379", ATTR_FLEET_METADATA_REGION: "r", ATTR_LIST: "a,b" });
  });
});

describe("lifecycle", () => {
  it("runs every step from the last successful action to the one asked for", () => {
    expect(actionsBetween(undefined, "verify")).to.deep.equal(["create", "converge", "verify"]);
    expect(actionsBetween("create", "verify")).to.deep.equal(["converge", "verify"]);
  });
  it("re-runs only the asked action when the instance is already past it", () => {
    expect(actionsBetween("verify", "converge")).to.deep.equal(["converge"]);
    expect(actionsBetween("converge", "converge")).to.deep.equal(["converge"]);
    expect(actionsBetween("verify", "destroy")).to.deep.equal(["destroy"]);
  });
});

describe("plan: node names and boxes", () => {
  it("names nodes <node_prefix>0… when a suite says so, and finds a box Galley ships by name", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-plan-"));
    try {
      mkdirSync(path.join(dir, "prov"));
      writeFileSync(path.join(dir, "prov", "provision.sh"), "true\n");
      const config = (prefix: string) =>
        `driver: docker\nprovisioner: { name: shell, path: prov }\nverifier: { name: mocha, suites: prov }\nplatforms: [{ name: d, box: debian-12 }]\nsuites: [{ name: web, nodes: 2, node_prefix: ${prefix} }]\n`;
      const [p] = planInstances(parseConfig(config("web"), path.join(dir, "galley.yml")));
      expect(p!.nodes.map((n) => n.name)).to.deep.equal(["web0", "web1"]);
      expect(p!.boxDir).to.equal(path.join(SHIPPED_BOXES, "debian-12"));
      expect(() => parseConfig(config("a-very-long-prefix-that-makes-no-host-name"), path.join(dir, "galley.yml")))
        .to.throw(/galley\.yml:5: suites\[0\]\.node_prefix: a-very-long-prefix-that-makes-no-host-name1 is no host name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
