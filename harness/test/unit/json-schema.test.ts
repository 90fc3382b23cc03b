// The JSON Schemas editors use (harness/schema/*.schema.json): committed as the build generates them
// from the zod schemas, named by a `# yaml-language-server: $schema=` line in every shipped config,
// and accepting exactly what Galley accepts (every shipped config passes; typical mistakes fail both).
import { expect } from "chai";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { BoxYml } from "../../src/boxes/definition.ts";
import { galleyJsonSchema, SCHEMA_FILES, schemaText, staleSchemaFiles } from "../../src/config/json-schema.ts";
import { GalleyConfig } from "../../src/config/schema.ts";
import { repo } from "../e2e/helpers.ts";

const schemaDir = path.join(repo, "harness", "schema");
// zod's .url() becomes format "uri": checked here the way zod reads it (a URL that parses).
const ajv = new Ajv({ allErrors: true, strict: false, formats: { uri: (s: string) => URL.canParse(s) } });
const validGalley = ajv.compile(JSON.parse(readFileSync(path.join(schemaDir, "galley.schema.json"), "utf8")));
const validBox = ajv.compile(JSON.parse(readFileSync(path.join(schemaDir, "box.schema.json"), "utf8")));

const galleyFiles = [
  "galley.yml",
  ...readdirSync(path.join(repo, "fixtures")).filter((d) => existsSync(path.join(repo, "fixtures", d, "galley.yml"))).map((d) => `fixtures/${d}/galley.yml`),
  "harness/templates/starter/galley.yml",
];
const boxFiles = [
  ...readdirSync(path.join(repo, "boxes")).map((d) => `boxes/${d}/box.yml`),
  ...readdirSync(path.join(repo, "harness", "boxes")).map((d) => `harness/boxes/${d}/box.yml`),
];
const yaml = (file: string) => parse(readFileSync(path.join(repo, file), "utf8"), { merge: true }) as unknown;
const errors = (v: { errors?: unknown[] | null }) => JSON.stringify(v.errors, null, 1);

describe("JSON Schemas for galley.yml and box.yml", () => {
  it("are committed exactly as the build generates them", () => {
    expect(staleSchemaFiles(schemaDir)).to.deep.equal([]);
  });

  it("drift is caught both ways: zod changed without regenerating, or a schema file edited by hand", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "galley-schema-"));
    try {
      for (const file of Object.keys(SCHEMA_FILES)) copyFileSync(path.join(schemaDir, file), path.join(dir, file));
      expect(staleSchemaFiles(dir)).to.deep.equal([]);
      // A key added to the validator (here: to its JSON form) and the committed file not rewritten.
      const zodGainedAKey = { ...SCHEMA_FILES, "galley.schema.json": () => {
        const s = galleyJsonSchema();
        return { ...s, properties: { ...(s.properties as object), retries: { type: "integer" } } };
      } };
      expect(staleSchemaFiles(dir, zodGainedAKey)).to.deep.equal([`${path.join(dir, "galley.schema.json")} is not what the zod schemas generate: run \`npm run schema -w harness\``]);
      // The committed box schema loosened by hand; and one deleted.
      const box = JSON.parse(readFileSync(path.join(dir, "box.schema.json"), "utf8")) as { additionalProperties?: unknown };
      box.additionalProperties = true;
      writeFileSync(path.join(dir, "box.schema.json"), schemaText(box));
      rmSync(path.join(dir, "galley.schema.json"));
      expect(staleSchemaFiles(dir).map((m) => path.basename(m.split(" ")[0]!))).to.deep.equal(["galley.schema.json", "box.schema.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("are named by every shipped config's yaml-language-server line, at a path that exists", () => {
    for (const file of [...galleyFiles, ...boxFiles]) {
      const first = readFileSync(path.join(repo, file), "utf8").split("\n")[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${file}: first line`).to.not.equal(null);
      const kind = file.endsWith("box.yml") ? "box.schema.json" : "galley.schema.json";
      expect(path.basename(m![1]!), file).to.equal(kind);
      // The starter's points into node_modules/galley from the project it is copied into: here, from the
      // repository's root, where node_modules/galley is the workspace link.
      const from = file.startsWith("harness/templates/") ? repo : path.resolve(repo, path.dirname(file));
      expect(existsSync(path.resolve(from, m![1]!)), `${file}: ${m![1]} exists`).to.equal(true);
    }
  });

  it("accept every shipped config", () => {
    expect(galleyFiles.length).to.be.greaterThan(4);
    for (const file of galleyFiles) expect(validGalley(yaml(file)), `${file}: ${errors(validGalley)}`).to.equal(true);
    for (const file of boxFiles) expect(validBox(yaml(file)), `${file}: ${errors(validBox)}`).to.equal(true);
  });

  it("agree with Galley's own validation on shorthands and mistakes", () => {
    const base = { driver: "docker", provisioner: { name: "shell", path: "p" }, verifier: { name: "mocha", suites: "s" }, platforms: [{ name: "d", box: "debian-12" }], suites: [{ name: "a", nodes: 2 }] };
    const cases: [string, unknown][] = [
      ["the plugin shorthand", base],
      ["a plugin object", { ...base, transport: { name: "ssh", command_timeout: "5m" } }],
      ["an unknown driver", { ...base, driver: "podman" }],
      ["an unknown key", { ...base, driver: { name: "docker", bogus: 1 } }],
      ["17 nodes", { ...base, suites: [{ name: "a", nodes: 17 }] }],
      ["a node name with capitals", { ...base, suites: [{ name: "a", nodes: [{ name: "Web0" }] }] }],
      ["a bad duration", { ...base, driver: { name: "docker", boot_timeout: "1h" } }],
      ["no suites", { ...base, suites: [] }],
      ["a url artifact", { ...base, artifacts: { etcd: { source: "url", url: "https://x.invalid/e.tgz", sha256: "a".repeat(64), binaries: ["etcd"] } } }],
      ["a url artifact that is not a URL", { ...base, artifacts: { etcd: { source: "url", url: "not a url", sha256: "a".repeat(64), binaries: ["etcd"] } } }],
      ["a url artifact without sha256", { ...base, artifacts: { etcd: { source: "url", url: "https://x.invalid/e.tgz", binaries: ["etcd"] } } }],
    ];
    for (const [what, config] of cases) {
      expect(validGalley(config), `${what}: schema ${errors(validGalley)}`).to.equal(GalleyConfig.safeParse(config).success);
    }
    const boxes: [string, unknown][] = [
      ["an extending box", { extends: "debian-12", packages: ["lighttpd"], masked: ["lighttpd"] }],
      ["a bad package name", { extends: "debian-12", packages: ["Bad Name"] }],
      ["an unknown key", { extends: "debian-12", pakages: [] }],
    ];
    for (const [what, box] of boxes) expect(validBox(box), `${what}: schema ${errors(validBox)}`).to.equal(BoxYml.safeParse(box).success);
    expect(validGalley({ ...base, driver: "podman" })).to.equal(false);
  });
});
