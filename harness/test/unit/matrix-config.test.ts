// matrix.expected_failures in galley.yml: every mistake is a `file:line: key` error, all at once; and the
// version an artifact says it is (VERSION file, else what its binaries say).
import { expect } from "chai";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { versionOf } from "../../src/artifacts/resolve.ts";
import { parseConfig } from "../../src/config/load.ts";
import { UserError } from "../../src/errors.ts";

function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "galley-matrix-config-"));
  for (const d of ["prov", "box", "specs", "etcd-recipe"]) mkdirSync(path.join(dir, d));
  writeFileSync(path.join(dir, "prov", "provision.sh"), "true\n");
  writeFileSync(path.join(dir, "box", "box.yml"), "name: x\ndistribution: bookworm\n");
  writeFileSync(path.join(dir, "etcd-recipe", "build.sh"), "true\n");
  writeFileSync(path.join(dir, "specs", "01-members.spec.ts"), 'import { expect } from "chai";\n\ndescribe("etcd members", function () {\n  it("x", () => {});\n});\n');
  writeFileSync(path.join(dir, "specs", "02-fleet.spec.ts"), 'describe(`fleet machines`, () => {\n  describe("inner", () => {});\n});\n');
  return dir;
}

const config = (expected: string) => `driver: docker
provisioner: { name: shell, path: prov }
verifier: { name: mocha, suites: specs }
platforms:
  - { name: debian-12, box: box }
suites:
  - { name: static, nodes: 3 }
matrix:
  suite: static
  axes:
    etcd:
      "3.4.23": { source: build, recipe: etcd-recipe, version: "3.4.23" }
      "3.6": { source: build, recipe: etcd-recipe, version: v3.6 }
    fleet:
      "1.0.0": { source: build, recipe: etcd-recipe, version: v1.0.0 }
  expected_failures:
${expected}`;

function errorsOf(expected: string): string[] {
  const dir = scratch();
  try {
    parseConfig(config(expected), path.join(dir, "galley.yml"));
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return (err as Error).message.split("\n").map((l) => l.replace(/^.*galley\.yml:/, "galley.yml:"));
  }
  return [];
}

describe("matrix: expected failures in galley.yml", () => {
  it("accepts cells by label or list of labels, columns that are stages or suite titles (nested ones too), and real dates", () => {
    expect(errorsOf(`    - cell: { etcd: ["3.6"], fleet: "1.0.0" }
      columns: [cluster forms, versions, fleet machines, fleet machines inner, etcd members]
      reason: no v2 API
      until: 2027-02-28
    - cell: { etcd: "3.4.23" }
      reason: anything may fail
`)).to.deep.equal([]);
  });

  it("names file, line and key for an unknown axis, an unknown label, an unknown column and a date that is no day", () => {
    expect(errorsOf(`    - cell: { etcd: ["3.6", "3.8"], flet: "1.0.0" }
      columns: [cluster forms, fleet machine]
      reason: typos
      until: 2027-02-30
    - cell: { fleet: "0.8.3" }
      columns: artifact
      reason: more typos
`)).to.deep.equal([
      "galley.yml:17: matrix.expected_failures[0].cell.etcd[1]: unknown etcd label 3.8 (labels: 3.4.23, 3.6)",
      "galley.yml:17: matrix.expected_failures[0].cell.flet: unknown axis flet (axes: etcd, fleet)",
      "galley.yml:18: matrix.expected_failures[0].columns[1]: unknown column fleet machine (columns: artifacts, cluster forms, versions, verify, etcd members, fleet machines)",
      "galley.yml:20: matrix.expected_failures[0].until: 2027-02-30 is not a calendar date",
      "galley.yml:21: matrix.expected_failures[1].cell.fleet: unknown fleet label 0.8.3 (labels: 1.0.0)",
      "galley.yml:22: matrix.expected_failures[1].columns: unknown column artifact (columns: artifacts, cluster forms, versions, verify, etcd members, fleet machines)",
    ]);
  });

  it("says what is wrong with the shape: an unquoted number label, a missing reason, a date in another format", () => {
    expect(errorsOf(`    - cell: { etcd: 3.6 }
      until: 30.06.2027
`)).to.deep.equal([
      'galley.yml:17: matrix.expected_failures[0].cell.etcd: expected a label or a list of labels (quote numbers: "3.6")',
      "galley.yml:17: matrix.expected_failures[0].reason: is required",
      "galley.yml:18: matrix.expected_failures[0].until: expected a date written YYYY-MM-DD",
    ]);
  });
});

describe("artifacts: the version an artifact is", () => {
  const folder = (files: Record<string, string>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-artifact-version-"));
    for (const [name, body] of Object.entries(files)) {
      writeFileSync(path.join(dir, name), body);
      if (body.startsWith("#!")) chmodSync(path.join(dir, name), 0o755);
    }
    return dir;
  };

  it("is what its VERSION file says (a recipe's concrete version, or a path artifact's own claim), without a leading v", async () => {
    expect(await versionOf(folder({ VERSION: "v3.6.16\n", etcd: "#!/bin/sh\necho etcd Version: 3.4.23\n" }))).to.deep.equal({ version: "3.6.16", versionFrom: "VERSION file" });
  });

  it("is, without a VERSION file, what its binaries say when they agree; unknown, saying why, when they do not", async () => {
    expect(await versionOf(folder({ etcd: "#!/bin/sh\necho etcd Version: 3.4.23\n", etcdctl: "#!/bin/sh\necho etcdctl version: 3.4.23\n", "README": "not a binary" })))
      .to.deep.equal({ version: "3.4.23", versionFrom: "etcd --version, etcdctl --version" });
    const disagree = await versionOf(folder({ etcd: "#!/bin/sh\necho etcd Version: 3.4.23\n", etcdctl: "#!/bin/sh\necho etcdctl version: 3.5.0\n" }));
    expect(disagree.version).to.equal(undefined);
    expect(disagree.versionFrom).to.match(/no VERSION file in .*, and its binaries disagree: etcd 3\.4\.23, etcdctl 3\.5\.0$/);
    const silent = await versionOf(folder({ etcd: "#!/bin/sh\necho hello\n" }));
    expect(silent.version).to.equal(undefined);
    expect(silent.versionFrom).to.match(/no VERSION file in .* and no version in its binaries \(etcd\)$/);
  });
});
