// Galley outside its own repository, as a new user meets it: `npm pack` the package, install the
// tarball into a fresh project in the temp folder (dependencies from the registry, through the
// machine's npm config), `npx galley init`, then give the project its own box (extending debian-12,
// adding lighttpd, masked until the provisioning configures it), its own provisioning step with the
// shipped helpers, a TypeScript, a JavaScript and a destructive spec, and run it: `galley test` green,
// a second `galley verify` green, the README's standalone mocha command green, the spec types check.
// Then the provisioning is broken twice, and each time the failure names node and check (or unit,
// with its journal). No symlink, no copy: the project has only what `npm i -D` gave it.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LeakWatch, markedEnv, repo } from "./helpers.ts";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const base = markedEnv(env);
    delete base.GALLEY_CONFIG; // the project's own galley.yml, found from its folder
    const child = spawn(cmd, args, { cwd, env: base, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - start }));
  });
}

const ok = (r: Run, what: string, log?: string) => {
  const tail = log && existsSync(log) ? `\nlast lines of ${log}:\n${readFileSync(log, "utf8").split("\n").slice(-40).join("\n")}` : "";
  expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}${tail}`).to.equal(0);
};

describe("galley as an npm package, in a project outside the repository", function () {
  const instance = "hello-debian-12";
  let project: string;
  let packDir: string;
  let watch: LeakWatch;
  // `npx --no --`: the project's own galley, never one downloaded on the fly, and every option its own.
  const galley = (...args: string[]) => run("npx", ["--no", "--", "galley", ...args], project);
  const logFile = () => path.join(project, ".galley", instance, "galley.log");
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
    writeFileSync(path.join(project, file), text);
  };

  before(async function () {
    packDir = mkdtempSync(path.join(os.tmpdir(), "galley-pack-"));
    project = mkdtempSync(path.join(os.tmpdir(), "galley-user-project-"));
    expect(path.relative(repo, project).startsWith(".."), "the project is outside the repository").to.equal(true);
    watch = await LeakWatch.start([project]);
  });

  after(async () => {
    if (existsSync(path.join(project, "node_modules", ".bin", "galley"))) await galley("destroy");
    rmSync(project, { recursive: true, force: true });
    rmSync(packDir, { recursive: true, force: true });
  });

  it("packs into a tarball of compiled JavaScript with types, the shipped boxes, helper library and starter", async () => {
    const r = await run("npm", ["pack", "--json", "--pack-destination", packDir], path.join(repo, "harness"));
    ok(r, "npm pack");
    const [info] = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    for (const f of ["bin/galley.js", "dist/cli/main.js", "dist/suite-api/index.js", "dist/suite-api/index.d.ts", "dist/verifiers/mocha/register.js", "boxes/debian-12/box.yml", "lib/galley.sh", "templates/starter/galley.yml", "dist/api/index.js", "dist/api/index.d.ts", "schema/galley.schema.json", "schema/box.schema.json", "templates/api/cluster.test.ts", "templates/ci/github-actions.yml", "templates/ci/gitlab-ci.yml", "tools/netshaper/main.go"]) {
      expect(files, f).to.include(f);
    }
    expect(files.filter((f) => f.startsWith("src/") || f.startsWith("test/")), "no sources or tests").to.deep.equal([]);
    writeFileSync(path.join(packDir, "name"), info!.filename);
  });

  it("installs with `npm i -D` into a fresh project, and `galley init` writes a starter there (and never overwrites it)", async () => {
    ok(await run("npm", ["init", "-y"], project), "npm init");
    const tarball = path.join(packDir, readFileSync(path.join(packDir, "name"), "utf8"));
    ok(await run("npm", ["install", "--save-dev", "--no-audit", "--no-fund", tarball], project), "npm install");
    expect(existsSync(path.join(project, "node_modules", "galley", "src")), "an installed galley has no TypeScript sources").to.equal(false);
    const init = await galley("init");
    ok(init, "galley init");
    expect(init.stdout).to.match(/wrote 3 files:\n {2}galley\.yml\n {2}provisioning\/provision\.sh\n {2}spec\/hello\.spec\.ts\n/);
    // The starter's editor line names the schema the package installed.
    const schema = /^# yaml-language-server: \$schema=(\S+)/.exec(readFileSync(path.join(project, "galley.yml"), "utf8"))?.[1];
    expect(existsSync(path.join(project, schema ?? "(none)")), `schema ${schema}`).to.equal(true);
    const again = await galley("init");
    expect(again.code).to.equal(20);
    expect(again.stderr).to.match(/galley init writes nothing: .*galley\.yml, .*provision\.sh, .*hello\.spec\.ts already exist/);
  });

  it("galley test is green with the project's own box (extends debian-12), provisioning and TypeScript, JavaScript and destructive specs", async () => {
    // Its own box: debian-12 plus lighttpd, masked until the provisioning configures it.
    write("box/box.yml", "name: galley-e2e-web\nextends: debian-12\npackages: [lighttpd]\nmasked: [lighttpd]\n");
    const config = readFileSync(path.join(project, "galley.yml"), "utf8");
    expect(config).to.match(/box: debian-12 /);
    // (A longer boot timeout than the default 60 s: this machine may be running other clusters meanwhile.)
    write("galley.yml", config.replace(/box: debian-12 .*/, "box: box").replace(/^driver: docker$/m, "driver: { name: docker, boot_timeout: 180s }"));
    // Its own provisioning step, with the shipped helpers (ensure_service unmasks the box's mask).
    write("provisioning/provision.sh", readFileSync(path.join(project, "provisioning/provision.sh"), "utf8") + [
      "",
      "step lighttpd",
      'put_file /var/www/html/index.html 644 root:root <<< "lighttpd on $GALLEY_NODE_NAME" || :',
      "ensure_service lighttpd",
      "",
    ].join("\n"));
    write("spec/lighttpd.spec.mjs", [
      'import { expect } from "chai";',
      'import { useCluster } from "galley/verifier";',
      "",
      'describe("lighttpd from the project\'s box", function () {',
      "  const cluster = useCluster();",
      '  it("serves every node\'s page on port 80", async () => {',
      "    await cluster.each(async (node) => {",
      "      const page = await cluster.other(node).waitUntilSucceeds(`curl -fsS http://${node.ip}/`, { timeoutMs: 15000 });",
      "      expect(page.trim()).to.equal(`lighttpd on ${node.name}`);",
      "    });",
      "  });",
      "});",
      "",
    ].join("\n"));
    // First in file order, but destructive: Galley runs it after the others, and converges before the next verify.
    write("spec/00-outage.spec.ts", [
      'import { expect } from "chai";',
      'import { destructive, useCluster } from "galley/verifier";',
      "",
      'describe("an outage of hello on the last node", function () {',
      '  destructive(this, "stops hello.service on the last node");',
      "  const cluster = useCluster<{ hello?: { port?: number } }>();",
      '  it("leaves the first node serving", async () => {',
      "    const [first, last] = [cluster.nodes[0]!, cluster.nodes.at(-1)!];",
      "    const port = first.attributes.hello?.port ?? 8080;",
      '    await last.succeed("systemctl stop hello.service");',
      "    await first.fail(`curl -fsS http://${last.ip}:${port}/`);",
      "    expect((await last.succeed(`curl -fsS http://${first.ip}:${port}/`)).trim()).to.equal(`hello from ${first.name}`);",
      "  });",
      "});",
      "",
    ].join("\n"));

    const r = await galley("test", "--destroy", "never");
    ok(r, "galley test", logFile());
    expect(r.stderr).to.match(/✓ converge again \(idempotence\) hello-debian-12/);
    expect(r.stderr).to.match(/4 checks passed on hello-debian-12\n {4}hello: 2 passed\n {4}lighttpd from the project's box: 1 passed\n {4}an outage of hello on the last node: 1 passed/);
    const log = readFileSync(path.join(project, ".galley", instance, "galley.log"), "utf8");
    expect(log, "the shipped helpers unmasked the box's lighttpd").to.match(/\[web0\] changed: unmasked lighttpd/);
  });

  it("verifies a second time: the destructive suite's damage is converged away first", async () => {
    const r = await galley("verify");
    ok(r, "galley verify", logFile());
    expect(r.stderr).to.match(/✓ converge \(after destructive suites\) hello-debian-12/);
    expect(r.stderr).to.match(/4 checks passed on hello-debian-12/);
  });

  it("runs the compiled CLI (no TypeScript at start-up) quickly: galley list", async () => {
    const r = await galley("list");
    ok(r, "galley list");
    expect(r.stdout).to.match(/^hello-debian-12\s+2\s+docker\s+docker-exec\s+verify\s*$/m);
    const direct = await run(process.execPath, [path.join(project, "node_modules", "galley", "bin", "galley.js"), "list"], project);
    ok(direct, "node …/galley.js list");
    console.log(`      npx galley list: ${r.ms} ms; node node_modules/galley/bin/galley.js list: ${direct.ms} ms`);
  });

  it("runs specs under plain mocha as the README says (mocha --require galley/register)", async () => {
    // The last verify ran the destructive suite: a converge undoes it (galley verify would do so itself).
    ok(await galley("converge"), "galley converge", logFile());
    const r = await run("npx", ["--no", "--", "mocha", "--require", "galley/register", "--timeout", "3m", "spec/hello.spec.ts", "spec/lighttpd.spec.mjs"], project, { GALLEY_INSTANCE: instance });
    ok(r, "standalone mocha");
    expect(r.stdout).to.match(/3 passing/);
  });

  it("type-checks the project's TypeScript specs against the package's declarations", async () => {
    // The specs, and the programmatic API's example (import { GalleyInstance } from "galley").
    write("test/cluster.test.ts", readFileSync(path.join(project, "node_modules", "galley", "templates", "api", "cluster.test.ts"), "utf8"));
    write("tsconfig.json", JSON.stringify({ compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, skipLibCheck: true, types: ["mocha"] }, include: ["spec/**/*.ts", "test/**/*.ts"] }));
    ok(await run(path.join(repo, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project), "tsc");
    write("spec/typo.spec.ts", 'import { useCluster } from "galley/verifier";\nconst c = useCluster<{ port: number }>();\nit("x", () => c.nodes[0]!.attributes.prot);\n');
    const bad = await run(path.join(repo, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project);
    rmSync(path.join(project, "spec", "typo.spec.ts"));
    expect(bad.code).to.not.equal(0);
    expect(bad.stdout).to.match(/typo\.spec\.ts.*Property 'prot' does not exist/);
  });

  it("fails verify naming node and check when the provisioning breaks a node", async () => {
    const good = readFileSync(path.join(project, "provisioning/provision.sh"), "utf8");
    write("provisioning/provision.sh", good + 'if [ "$GALLEY_NODE_INDEX" = 1 ]; then systemctl stop hello.service; fi\n');
    ok(await galley("converge"), "galley converge");
    const r = await galley("verify");
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/✗ hello runs hello\.service on every node\n.*web1: unit hello\.service on web1 is inactive\/dead/);
    expect(r.stderr).to.not.match(/web0: unit/);
    const list = JSON.parse((await galley("list", "--json")).stdout) as { lastError: string }[];
    expect(list[0]!.lastError).to.equal("verify: check failed: hello runs hello.service on every node (and 1 more)");
    write("provisioning/provision.sh", good);
  });

  it("fails converge naming node, step and unit, with the unit's journal, when a unit does not start", async () => {
    const good = readFileSync(path.join(project, "provisioning/provision.sh"), "utf8");
    write("provisioning/provision.sh", good.replace("[Service]\n", "[Service]\nExecStartPre=/bin/sh -c 'test $GALLEY_NODE_INDEX != 1 || { echo port $port is taken >&2; exit 1; }'\n"));
    const r = await galley("converge");
    expect(r.code, r.stderr).to.equal(10);
    expect(r.stderr).to.match(/node web1: provision\.sh failed with exit code 1 \(step service\)/);
    expect(r.stderr).to.match(/unit hello\.service on web1 is \S+; last journal lines:\n(.*\n)*.*sh\[\d+\]: port 8080 is taken/);
    expect(r.stderr).to.not.match(/node web0:/);
    write("provisioning/provision.sh", good);
  });

  it("destroys everything it made", async () => {
    ok(await galley("destroy"), "galley destroy");
    expect(await watch.leftovers()).to.deep.equal([]);
  });
});
