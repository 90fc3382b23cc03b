// More platforms, end to end on real Docker, in one run of about the time of one instance: the fleet
// cluster's static suite on Debian 11 and 13 (each with its release's own etcd, 3.3 and 3.5), and at the
// same time on a box that starts `from:` an image in a private registry (Debian's docker-registry on
// loopback, with a password). Galley must pull that image with the user's Docker credentials (and say
// so when it has none), build the box on it, and the suite must pass there too. Debian 12 runs in
// galley-test.test.ts.
// The image pushed is, by default, Galley's own debian-12 box image (already has systemd and the
// packages: the box build on it takes seconds). GALLEY_E2E_PLAIN_REGISTRY_IMAGE=1 pushes a plain
// Debian 12 instead (mmdebstrap minbase, no systemd, as registries serve distributions): the box build
// then installs systemd and every package, a few minutes more.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { loadBox, SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { ensureBox, hostDebianMirror } from "../../src/drivers/docker/box.ts";
import { galley, LeakWatch, repo, type CliResult } from "./helpers.ts";
import { LocalRegistry, REGISTRY_PASSWORD, REGISTRY_USER } from "./local-registry.ts";

const PLAIN_IMAGE = process.env.GALLEY_E2E_PLAIN_REGISTRY_IMAGE === "1";
const FLEET_PACKAGES = ["iproute2", "iputils-ping", "curl", "ca-certificates", "openssh-server", "openssh-client", "sudo", "procps", "etcd-server", "etcd-client", "docker.io", "busybox-static"];

/** The etcd version each node ran, from the versions suite's facts in verify.json. */
function etcdVersions(galleyDir: string, instance: string): string[] {
  const verify = JSON.parse(readFileSync(path.join(galleyDir, instance, "verify.json"), "utf8")) as { checks: { properties?: Record<string, string> }[] };
  const facts = Object.assign({}, ...verify.checks.map((c) => c.properties ?? {})) as Record<string, string>;
  return Object.entries(facts).filter(([k]) => /^version\.etcd\.etcd\./.test(k)).map(([, v]) => v);
}

const timings = (r: CliResult) => r.stderr.split("\n").filter((l) => /^✓ (pull|build box|create|converge|verify|destroy)/.test(l.trim())).map((l) => l.trim()).join("; ");

describe("more platforms: Debian 11 and 13, and a box pulled from a private registry (docker-registry on 127.0.0.1)", function () {
  const d = new Docker();
  const platforms = path.join(repo, "fixtures", "platforms");
  const platformsConfig = path.join(platforms, "galley.yml");
  const debian = { "static-debian-11": "3.3.25", "static-debian-13": "3.5.16" };
  const pulled = "static-registry";
  let registry: LocalRegistry | undefined;
  let work: string;
  let ref: string;
  let watch: LeakWatch;
  const project = () => path.join(work, "project");
  const registryConfig = () => path.join(project(), "galley.yml");
  const dockerConfig = (name: string) => path.join(work, name);

  before(async function () {
    work = mkdtempSync(path.join(os.tmpdir(), "galley-registry-test-"));
    watch = await LeakWatch.start([project()]);
    registry = await LocalRegistry.start();
    ref = `${registry.host}/galley-test/bookworm:1`;
    if (PLAIN_IMAGE) {
      // A plain Debian 12 as registries serve it (no systemd, no init).
      await sh(`mmdebstrap --mode=root --variant=minbase --quiet bookworm - ${hostDebianMirror() ?? ""} | docker import - ${ref}`);
    } else {
      // Galley's debian-12 box image, built here by mmdebstrap (cached: other tests use it too).
      const [repoName, tag] = (await ensureBox(loadBox(path.join(SHIPPED_BOXES, "debian-12")))).split(":");
      await d.getImage(`${repoName}:${tag}`).tag({ repo: ref.slice(0, ref.lastIndexOf(":")), tag: "1" });
    }
    // Pushed with the test's password, then removed here so that Galley has to pull it.
    const auth = { username: REGISTRY_USER, password: REGISTRY_PASSWORD, serveraddress: registry.host };
    await follow(await d.getImage(ref).push({ authconfig: auth }), `push ${ref}`);
    await d.getImage(ref).remove();

    mkdirSync(path.join(project(), "box"), { recursive: true });
    writeFileSync(path.join(project(), "box", "box.yml"), [
      `# Debian 12 from the test's private registry: Galley adds its container set-up${PLAIN_IMAGE ? ", systemd and these packages" : ""}.`,
      "name: galley-e2e-registry",
      `from: ${ref}`,
      `packages: [${PLAIN_IMAGE ? FLEET_PACKAGES.join(", ") : ""}]`,
      "masked: [etcd]",
      "nested_docker: true",
      "",
    ].join("\n"));
    writeFileSync(registryConfig(), [
      "driver: { name: docker, boot_timeout: 60s }",
      `provisioner: { name: shell, path: ${path.join(repo, "fixtures", "fleet-cluster")}, script: provision.sh, cluster_script: cluster.sh, timeout: 5m }`,
      `verifier: { name: mocha, suites: ${path.join(repo, "suites", "fleet-cluster")}, timeout: 3m }`,
      `artifacts: { fleet: { source: build, recipe: ${path.join(repo, "fixtures", "artifacts", "fleet")}, version: v1.0.0 } }`,
      "attributes: { etcd: { enable_v2: true } }",
      "platforms: [{ name: registry, box: box }]",
      "suites: [{ name: static, nodes: 3, attributes: { etcd: { cluster: static } } }]",
      "",
    ].join("\n"));
    // The user's Docker configuration: one without credentials for this registry, one after `docker login`.
    mkdirSync(dockerConfig("no-login"));
    writeFileSync(path.join(dockerConfig("no-login"), "config.json"), JSON.stringify({ auths: {} }));
    mkdirSync(dockerConfig("logged-in"));
    const basic = Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString("base64");
    writeFileSync(path.join(dockerConfig("logged-in"), "config.json"), JSON.stringify({ auths: { [registry.host]: { auth: basic } } }));
  });

  after(async () => {
    for (const instance of Object.keys(debian)) await galley(["--config", platformsConfig, "destroy", instance]);
    if (work) await galley(["--config", registryConfig(), "destroy", pulled]);
    await removeImages();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("without credentials for the registry, the create fails naming the box's from: and how to log in", async () => {
    const r = await galley(["--config", registryConfig(), "create", pulled], { env: { DOCKER_CONFIG: dockerConfig("no-login") } });
    expect(r.code, r.stderr).to.equal(20);
    expect(r.stderr).to.include(`${path.join(project(), "box", "box.yml")}: from: cannot pull ${ref} without credentials (your Docker configuration has none for ${registry!.host}; \`docker login ${registry!.host}\` adds them)`);
    expect(r.stderr).to.match(/no basic auth credentials|unauthorized/);
    expect((await d.listImages({ filters: { reference: [ref] } })).length, "nothing pulled").to.equal(0);
  });

  it("the static suite passes on Debian 11, on Debian 13 and, with the user's credentials, on the pulled box (all at once)", async () => {
    const [onDebian, onPulled] = await Promise.all([
      galley(["--config", platformsConfig, "test", "static-debian-1[13]", "-c", "2"]),
      galley(["--config", registryConfig(), "test", pulled], { env: { DOCKER_CONFIG: dockerConfig("logged-in") } }),
    ]);
    console.log(`      (Debian 11 and 13: ${Math.round(onDebian.ms / 1000)} s: ${timings(onDebian)}\n       pulled box: ${Math.round(onPulled.ms / 1000)} s: ${timings(onPulled)})`);
    expect(onDebian.code, `exit code; stderr:\n${onDebian.stderr}`).to.equal(0);
    for (const [instance, etcd] of Object.entries(debian)) {
      expect(onDebian.stderr).to.match(new RegExp(`11 checks passed on ${instance}\\b`));
      expect(onDebian.stderr).to.match(new RegExp(`✓ converge again \\(idempotence\\) ${instance}\\b`));
      expect(etcdVersions(path.join(platforms, ".galley"), instance), `etcd on ${instance}`).to.deep.equal([etcd, etcd, etcd]);
    }
    expect(onPulled.code, `exit code; stderr:\n${onPulled.stderr}\nregistry log:\n${registry!.log().slice(-2000)}`).to.equal(0);
    expect(onPulled.stderr).to.match(new RegExp(`✓ pull ${ref.replace(/[.]/g, "\\.")} \\(box galley-e2e-registry; once\\)`));
    expect(onPulled.stderr).to.match(/✓ build box galley-e2e-registry/);
    expect(onPulled.stderr).to.match(/11 checks passed on static-registry\b/);
    expect(etcdVersions(path.join(project(), ".galley"), pulled)).to.deep.equal(["3.4.23", "3.4.23", "3.4.23"]);
    // The pull went through the registry's authentication: its manifest was served (401 without).
    expect(registry!.log()).to.match(/"(GET|HEAD) \/v2\/galley-test\/bookworm\/manifests\/\S+ HTTP\/1\.1" 200/);
  });

  it("leaves no container, network, volume, process or image behind", async () => {
    for (const instance of Object.keys(debian)) await galley(["--config", platformsConfig, "destroy", instance]);
    await galley(["--config", registryConfig(), "destroy", pulled]);
    await removeImages();
    await registry!.stop();
    expect(await watch.leftovers()).to.deep.equal([]);
    const left = [...await d.listImages({ filters: { label: ["galley.box=galley-e2e-registry"] } }), ...await d.listImages({ filters: { reference: [ref] } })];
    expect(left.map((i) => i.RepoTags ?? i.Id)).to.deep.equal([]);
  });

  // The box image built on the pulled one, then the pulled one: nothing of either may stay.
  async function removeImages(): Promise<void> {
    for (const img of await d.listImages({ filters: { label: ["galley.box=galley-e2e-registry"] } })) await d.getImage(img.Id).remove({ force: true }).catch(() => {});
    if (ref) await d.getImage(ref).remove({ force: true }).catch(() => {});
  }
});

function sh(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", script], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (b) => (err += b));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${script} failed (exit ${code}):\n${err.slice(-2000)}`))));
  });
}

async function follow(stream: NodeJS.ReadableStream, what: string): Promise<void> {
  const d = new Docker();
  let error: string | undefined;
  await new Promise((resolve, reject) =>
    d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(null)), (e: { error?: string }) => {
      if (e.error) error = e.error;
    }));
  if (error) throw new Error(`${what}: ${error}`);
}
