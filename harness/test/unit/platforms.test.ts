// The platforms that cannot all be built here, checked as far as this machine can: every box definition
// the repository and Galley ship renders through the schema, fixtures/platforms/galley.yml plans each
// platform with the etcd it needs, boxes `from:` a registry image are read and fingerprinted by that
// image, and the package-manager steps every box image is built with pick apt, dnf, microdnf or yum
// and call them the way each needs (run in sh with stub package managers on PATH).
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { boxHash, loadBox, SHIPPED_BOXES, shippedBoxNames } from "../../src/boxes/definition.ts";
import { loadConfig } from "../../src/config/load.ts";
import { CONTAINER_SYSTEMD_SETUP, customizeStep, finishingSteps, installStep, PACKAGE_FUNCTIONS, SYSTEMD_PACKAGES } from "../../src/drivers/docker/build-steps.ts";
import { bootstrapTool, imageOf } from "../../src/drivers/docker/box.ts";
import { UserError } from "../../src/errors.ts";
import { planInstances } from "../../src/plan/plan.ts";

const repo = path.resolve(import.meta.dirname, "../../..");
/** The RPM-family boxes' build_env, as a user (or the hosted workflow's repository variables) sets it. */
const RPM_ENV = {
  CENTOS_STREAM_9_IMAGE: "registry.example.net/centos/centos:stream9",
  DOCKER_CE_BASEURL: "https://repo.example.net/docker-ce/centos/$releasever/$basearch/stable",
  DOCKER_CE_GPGKEY: "https://repo.example.net/docker-ce/centos/gpg",
};

describe("platforms: box definitions", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "galley-platforms-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const box = (name: string, yml: string) => {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, "box.yml"), yml);
    return path.join(dir, name);
  };

  it("Galley ships Debian 11, 12 and 13, Rocky Linux 9 and CentOS Stream 9, and each renders through the schema", () => {
    expect(shippedBoxNames()).to.deep.equal(["centos-stream-9", "debian-11", "debian-12", "debian-13", "rockylinux-9"]);
    const bases = Object.fromEntries(shippedBoxNames().map((n) => [n, loadBox(path.join(SHIPPED_BOXES, n), RPM_ENV).base]));
    expect(bases).to.deep.equal({
      "debian-11": { kind: "debootstrap", distribution: "bullseye", variant: "minbase", mirror: undefined },
      "debian-12": { kind: "debootstrap", distribution: "bookworm", variant: "minbase", mirror: undefined },
      "debian-13": { kind: "debootstrap", distribution: "trixie", variant: "minbase", mirror: undefined },
      "rockylinux-9": { kind: "image", from: "rockylinux:9" },
      "centos-stream-9": { kind: "image", from: "registry.example.net/centos/centos:stream9" },
    });
  });

  it("every box in the repository's boxes/ loads, the fleet nodes with Docker inside", () => {
    const boxes = readdirSync(path.join(repo, "boxes")).filter((b) => existsSync(path.join(repo, "boxes", b, "box.yml")));
    expect(boxes).to.include.members(["fleet-node", "fleet-node-debian-11", "fleet-node-debian-13", "fleet-node-rockylinux-9", "fleet-node-centos-stream-9", "centos-7"]);
    for (const b of boxes) {
      const loaded = loadBox(path.join(repo, "boxes", b), RPM_ENV);
      if (b.startsWith("fleet-node")) expect(loaded.nestedDocker, b).to.equal(true);
    }
    // The RPM fleet nodes add Docker CE in customize.sh (after packages, which need no extra repository).
    expect(loadBox(path.join(repo, "boxes", "fleet-node-rockylinux-9"), RPM_ENV).customizeScript).to.match(/customize\.sh$/);
  });

  it("the RPM-family boxes take their registry and Docker CE repository from the environment, and say which is missing", () => {
    for (const b of ["fleet-node-rockylinux-9", "fleet-node-centos-stream-9"]) {
      const file = path.join(repo, "boxes", b, "box.yml");
      expect(() => loadBox(path.dirname(file), { ...RPM_ENV, DOCKER_CE_BASEURL: undefined })).to.throw(UserError, `${file}: build_env: DOCKER_CE_BASEURL is not set`);
      expect(() => loadBox(path.dirname(file), { ...RPM_ENV, DOCKER_CE_GPGKEY: "" })).to.throw(UserError, `${file}: build_env: DOCKER_CE_GPGKEY is not set`);
    }
    const centos = path.join(SHIPPED_BOXES, "centos-stream-9", "box.yml");
    expect(() => loadBox(path.join(repo, "boxes", "fleet-node-centos-stream-9"), { ...RPM_ENV, CENTOS_STREAM_9_IMAGE: undefined })).to.throw(UserError, `${centos}: build_env: CENTOS_STREAM_9_IMAGE is not set`);
    // The rockylinux-9 box itself (Docker Hub's image, no host named) needs nothing from the environment.
    expect(loadBox(path.join(SHIPPED_BOXES, "rockylinux-9"), {}).base).to.deep.equal({ kind: "image", from: "rockylinux:9" });
  });

  it("fixtures/platforms/galley.yml plans the static suite per platform, with etcd from Go modules where the distribution ships none", () => {
    const plans = planInstances(loadConfig(path.join(repo, "fixtures", "platforms", "galley.yml")));
    expect(plans.map((p) => p.name)).to.deep.equal(["static-debian-11", "static-debian-12", "static-debian-13", "static-rockylinux-9", "static-centos-stream-9"]);
    for (const p of plans) {
      const etcd = p.artifacts.etcd as { source?: string; version?: string } | undefined;
      if (/debian/.test(p.name)) expect(etcd, `${p.name}: the release's own etcd`).to.equal(undefined);
      // fleet speaks only etcd's v2 API: 3.5 is the newest series that serves it.
      else expect(etcd, p.name).to.include({ source: "go", version: "v3.5.35" });
      expect(p.artifacts.fleet, p.name).to.include({ version: "v1.0.0" });
    }
  });

  it("a box from an image: a base box with `from:`, and errors naming file and key", () => {
    const rocky = loadBox(box("rocky", "from: rockylinux:9\npackages: [openssh-server, perl-Data-Dumper]\n"));
    expect(rocky.base).to.deep.equal({ kind: "image", from: "rockylinux:9" });
    const child = loadBox(box("child", "extends: ../rocky\npackages: [docker-ce]\n"));
    expect(child.base).to.deep.equal({ kind: "image", from: "rockylinux:9" });
    const errorOf = (at: string) => {
      try {
        loadBox(at);
      } catch (err) {
        expect(err).to.be.instanceOf(UserError);
        return (err as Error).message;
      }
      throw new Error("expected the box to be rejected");
    };
    expect(errorOf(box("both", "from: rockylinux:9\ndistribution: bookworm\n"))).to.match(/both\/box\.yml: distribution: is for a box built by debootstrap; a box made from an image \(from: rockylinux:9\) cannot set it/);
    expect(errorOf(box("ext", "extends: debian-12\nfrom: rockylinux:9\n"))).to.match(/ext\/box\.yml: from: comes from the box it extends \(debian-12\)/);
    expect(errorOf(box("none", "packages: [curl]\n"))).to.match(/none\/box\.yml: distribution: is required \(a Debian code name such as bookworm\), unless the box starts from an image \(from:\) or extends another/);
    expect(errorOf(box("bad", "from: 'rocky linux'\n"))).to.match(/bad\/box\.yml: from: expected an image reference/);
  });

  it("an image box's tag follows the pulled image's id, so a newer image rebuilds the box; debootstrap boxes need none", () => {
    const rocky = loadBox(box("rocky", "from: rockylinux:9\n"));
    expect(() => imageOf(rocky)).to.throw(/starts from an image: its tag needs that image's id/);
    expect(imageOf(rocky, "sha256:aaa")).to.match(/^galley-box\/rocky:[0-9a-f]{12}$/);
    expect(imageOf(rocky, "sha256:aaa")).to.not.equal(imageOf(rocky, "sha256:bbb"));
    const child = loadBox(box("child", "extends: ../rocky\nnested_docker: true\n"));
    expect(imageOf(child, "sha256:aaa"), "a child that adds nothing runs its parent's image").to.equal(imageOf(rocky, "sha256:aaa"));
    const debian = loadBox(path.join(SHIPPED_BOXES, "debian-12"));
    expect(imageOf(debian)).to.equal(`galley-box/debian-12:${boxHash(debian, "2")}`);
  });

  it("bootstraps with mmdebstrap when installed, else debootstrap (and always for debootstrap's fakechroot variant)", () => {
    expect(bootstrapTool("minbase", () => true)).to.equal("mmdebstrap");
    expect(bootstrapTool("minbase", () => false)).to.equal("debootstrap");
    expect(bootstrapTool("fakechroot", () => true)).to.equal("debootstrap");
  });
});

describe("platforms: the package steps of a box build, per package manager", () => {
  let t: string;
  beforeEach(() => {
    t = mkdtempSync(path.join(os.tmpdir(), "galley-pm-"));
    mkdirSync(path.join(t, "bin"));
  });
  afterEach(() => rmSync(t, { recursive: true, force: true }));

  /** A stub command that logs its arguments to $T/calls. */
  const stub = (name: string, body = "exit 0") => {
    const file = path.join(t, "bin", name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >> "$T/calls"\n${body}\n`);
    chmodSync(file, 0o755);
  };
  /** Runs SCRIPT in sh with only the stubs and the basic tools (no apt-get, dnf or yum of this host). */
  const run = (script: string) => {
    for (const tool of ["sh", "cat", "rm", "echo"]) {
      const real = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (!existsSync(path.join(t, "bin", tool))) spawnSync("ln", ["-s", real, path.join(t, "bin", tool)]);
    }
    const r = spawnSync("/bin/sh", ["-c", `${PACKAGE_FUNCTIONS}\n${script}`], { encoding: "utf8", env: { PATH: path.join(t, "bin"), T: t } });
    const calls = existsSync(path.join(t, "calls")) ? readFileSync(path.join(t, "calls"), "utf8").split("\n").filter(Boolean) : [];
    return { code: r.status, stderr: r.stderr, calls };
  };

  it("apt: updates the index, installs without recommends, cleans the lists", () => {
    stub("apt-get");
    const r = run(`${installStep(["curl", "docker.io"])}\ngalley_clean`);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.calls).to.deep.equal(["apt-get update", "apt-get install -y --no-install-recommends curl docker.io", "apt-get clean"]);
  });

  it("dnf: installs without weak dependencies and cleans its cache; apt-get wins where both exist", () => {
    stub("dnf");
    const r = run(`${installStep(["openssh-server", "perl-Data-Dumper"])}\ngalley_clean`);
    expect(r.calls).to.deep.equal(["dnf install -y --setopt=install_weak_deps=False openssh-server perl-Data-Dumper", "dnf clean all"]);
    stub("apt-get");
    expect(run("galley_pm; galley_pm >&2").stderr.trim()).to.equal("apt");
  });

  it("yum (EL 7): refuses to skip a package it cannot find, as yum otherwise does with exit 0", () => {
    stub("yum");
    const r = run(installStep(["openssh-server"]));
    expect(r.calls).to.deep.equal(["yum install -y --setopt=skip_missing_names_on_install=False openssh-server"]);
  });

  it("a failing install fails the build; an image without a package manager is named", () => {
    stub("dnf", 'echo "Error: Unable to find a match: galley-no-such-package" >&2; exit 1');
    expect(run(`set -e\n${installStep(["galley-no-such-package"])}\necho unreachable`).code).to.equal(1);
    rmSync(path.join(t, "bin", "dnf"));
    const none = run(`set -e\n${installStep(["curl"])}`);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.match(/galley: this image has no apt-get, dnf, microdnf or yum: cannot install curl/);
  });

  it("an image without systemd gets systemd (with systemd-sysv and dbus on Debian) before its packages", () => {
    stub("apt-get");
    stub("bash");
    stub("timeout");
    const r = run(SYSTEMD_PACKAGES);
    // This host's /lib/systemd/systemd decides: the step installs systemd only where it is missing.
    const hostHasSystemd = existsSync("/lib/systemd/systemd");
    expect(r.calls).to.deep.equal(hostHasSystemd ? [] : ["apt-get update", "apt-get install -y --no-install-recommends systemd systemd-sysv dbus"]);
  });

  it("an RPM fleet node's customize.sh writes Docker CE's repository from build_env, then installs docker-ce with dnf", () => {
    stub("dnf");
    const box = loadBox(path.join(repo, "boxes", "fleet-node-rockylinux-9"), RPM_ENV);
    // The script as the box build runs it (set -eux), writing the repository file under $T instead of /etc.
    const script = customizeStep(box).replaceAll("/etc/yum.repos.d/", "$T/");
    const r = run(`set -eux\n${script}`);
    expect(r.code, r.stderr).to.equal(0);
    const repoFile = readFileSync(path.join(t, "docker-ce.repo"), "utf8");
    // yum, not the shell, expands $releasever and $basearch.
    expect(repoFile).to.include(`baseurl=${RPM_ENV.DOCKER_CE_BASEURL}\n`).and.include(`gpgkey=${RPM_ENV.DOCKER_CE_GPGKEY}\n`).and.include("gpgcheck=1");
    expect(r.calls).to.deep.equal(["dnf install -y --setopt=install_weak_deps=False docker-ce docker-ce-cli containerd.io"]);
  });

  it("every image ends with Galley's container set-up, its masks, without a machine id and without package caches", () => {
    const b = loadBox(path.join(SHIPPED_BOXES, "debian-12"));
    expect(finishingSteps(b)).to.deep.equal([
      CONTAINER_SYSTEMD_SETUP,
      "systemctl mask 'etcd.service'",
      "systemctl mask 'etcd-discovery.service'",
      "systemctl mask 'tinyproxy.service'",
      "rm -f /etc/machine-id /var/lib/dbus/machine-id",
      "galley_clean",
      "rm -rf /tmp/* /var/log/*.log",
    ]);
  });
});
