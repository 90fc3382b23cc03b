// The fleet-cluster fixture's helpers (fixtures/fleet-cluster/lib.sh), run in bash on this host: temp
// folders stand in for the node's files, and stub apt-get, dpkg-query, systemctl and install on PATH
// provoke the failures a node can hit. Every failure must end the script naming node and step, and must
// never be reported as a change; every success must report exactly what changed, and a second run nothing.
// The helpers are called the way the steps call them: from `if`, `&&` or `||`, where bash's errexit is off.
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const fixtureLib = path.resolve(import.meta.dirname, "../../../fixtures/fleet-cluster/lib.sh");
// Galley's own helper library (uploaded to every node as $GALLEY_LIB) shares the fixture's generic helpers.
const shippedLib = path.resolve(import.meta.dirname, "../../lib/galley.sh");
const LIBS = [["fixture lib.sh", fixtureLib], ["galley.sh (shipped)", shippedLib]] as const;
const owner = `${execFileSync("id", ["-un"]).toString().trim()}:${execFileSync("id", ["-gn"]).toString().trim()}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Lines the run appended to $GALLEY_CHANGES. */
  changes: string[];
}

/** A scratch "node": $T is its folder, stubs go in $T/bin (first on PATH), each stub call is logged to $T/calls. */
class Node {
  readonly t = mkdtempSync(path.join(os.tmpdir(), "galley-fixture-lib-"));
  constructor(private readonly lib = fixtureLib) {
    mkdirSync(path.join(this.t, "bin"));
    mkdirSync(path.join(this.t, "tmp"));
  }

  stub(name: string, body: string): this {
    const file = path.join(this.t, "bin", name);
    writeFileSync(file, `#!/bin/bash\necho "${name} $*" >> "$T/calls"\n${body}\n`);
    chmodSync(file, 0o755);
    return this;
  }

  /** Runs SCRIPT after `set -euo pipefail` and sourcing lib.sh, as step 40-etcd of node infra1. */
  run(script: string, env: Record<string, string> = {}): Run {
    const changes = path.join(this.t, "changes");
    writeFileSync(changes, "");
    const r = spawnSync("bash", ["-c", `set -euo pipefail\n. "${this.lib}"\nGALLEY_STEP=40-etcd\n${script}\necho "reached the end"`], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${path.join(this.t, "bin")}:${process.env.PATH}`,
        TMPDIR: path.join(this.t, "tmp"),
        T: this.t,
        OWNER: owner,
        GALLEY_NODE_NAME: "infra1",
        GALLEY_CHANGES: changes,
        GALLEY_DIR: this.t,
        ...env,
      },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, changes: readFileSync(changes, "utf8").split("\n").filter(Boolean) };
  }

  calls(): string[] {
    const f = path.join(this.t, "calls");
    return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
  }

  /** Temp files a helper left behind in $TMPDIR. */
  leftovers(): string[] {
    return readdirSync(path.join(this.t, "tmp"));
  }

  remove(): void {
    rmSync(this.t, { recursive: true, force: true });
  }
}

/** A failure: non-zero exit, one message naming node and step, nothing reported as changed. */
function expectFatal(r: Run, message: RegExp): void {
  expect(r.code, r.stderr).to.not.equal(0);
  expect(r.stdout).to.not.match(/reached the end/);
  expect(r.stderr).to.match(message);
  expect(r.changes, "no change may be reported for a failure").to.deep.equal([]);
  expect(r.stdout).to.not.match(/^changed:/m);
}

function expectOk(r: Run): void {
  expect(r.code, r.stderr).to.equal(0);
  expect(r.stdout).to.match(/reached the end/);
}

/** systemctl that keeps each unit's state in $T/units: <unit>.enabled, <unit>.active, and <unit>.broken (enable/start/restart fail). */
const systemctl = `
unit=\${@: -1}; s=$T/units; mkdir -p "$s"
case $1 in
  is-enabled) if [ -e "$s/$unit.masked" ]; then echo masked; exit 1; fi; [ -e "$s/$unit.enabled" ] ;;
  unmask) rm -f "$s/$unit.masked" ;;
  is-active) [ -e "$s/$unit.active" ] ;;
  daemon-reload) [ ! -e "$s/daemon-reload.broken" ] || { echo "Failed to reload daemon: Access denied" >&2; exit 1; } ;;
  enable) [ ! -e "$s/$unit.broken" ] || { echo "Failed to enable unit: Unit file $unit.service does not exist." >&2; exit 1; }; touch "$s/$unit.enabled" ;;
  start|restart) [ ! -e "$s/$unit.broken" ] || { echo "Job for $unit.service failed because the control process exited with error code." >&2; exit 1; }; touch "$s/$unit.active" ;;
  *) echo "unexpected systemctl $*" >&2; exit 3 ;;
esac`;

/** dpkg-query and apt-get over $T/installed/<pkg>: apt-get install "installs" only packages listed in $T/archive. */
function withApt(node: Node, { archive, update = "exit 0" }: { archive: string[]; update?: string }): Node {
  mkdirSync(path.join(node.t, "installed"), { recursive: true });
  writeFileSync(path.join(node.t, "archive"), archive.map((p) => p + "\n").join(""));
  return node
    .stub("dpkg-query", `p=\${@: -1}; if [ -e "$T/installed/$p" ]; then printf 'install ok installed'; else echo "dpkg-query: no packages found matching $p" >&2; exit 1; fi`)
    .stub("apt-get", `
case $1 in
  update) ${update} ;;
  install)
    for p in "$@"; do case $p in -*|install) continue ;; esac
      grep -qx "$p" "$T/archive" || { echo "E: Unable to locate package $p"; exit 100; }
    done
    for p in "$@"; do case $p in -*|install) continue ;; esac; [ -e "$T/archive.lies" ] || touch "$T/installed/$p"; done ;;
esac`);
}

for (const [name, lib] of LIBS) {
  describe(`${name}: a failure ends the converge, naming node and step, and is never a change`, function () {
    let node: Node;
    beforeEach(() => (node = new Node(lib)));
    afterEach(() => node.remove());

    it("put_file: an unwritable destination", () => {
      writeFileSync(path.join(node.t, "etc"), "a file where a folder should be");
      const r = node.run(`put_file "$T/etc/systemd/etcd.service" 644 "$OWNER" <<< "[Unit]" || :`);
      expectFatal(r, /^infra1: 40-etcd: cannot write \/\S+\/etc\/systemd\/etcd\.service: install: .*Not a directory/m);
      expect(node.leftovers(), "temp files").to.deep.equal([]);
    });

    it("put_file: a failing install, also when its result decides a restart (`if put_file …`)", () => {
      node.stub("install", `echo "install: cannot change ownership of '\${@: -1}': Operation not permitted" >&2; exit 1`);
      const r = node.run(`if put_file "$T/etcd.service" 644 "$OWNER" <<< "[Unit]"; then echo "would restart"; fi`);
      expectFatal(r, /^infra1: 40-etcd: cannot write \S+\/etcd\.service: install: cannot change ownership of '\S+\/etcd\.service': Operation not permitted$/m);
      expect(r.stdout).to.not.match(/would restart/);
      expect(node.leftovers(), "temp files").to.deep.equal([]);
    });

    it("install_binary: a failing install", () => {
      writeFileSync(path.join(node.t, "etcd"), "#!/bin/sh\n");
      node.stub("install", `echo "install: cannot create regular file '\${@: -1}': Read-only file system" >&2; exit 1`);
      const r = node.run(`install_binary "$T/etcd" "$T/usr/local/bin/etcd" || :`);
      expectFatal(r, /^infra1: 40-etcd: cannot install \S+\/usr\/local\/bin\/etcd: install: cannot create regular file .*: Read-only file system$/m);
    });

    it("install_binary: a source that does not exist", () => {
      const r = node.run(`install_binary "$T/artifacts/etcd/etcd" "$T/usr/local/bin/etcd" || :`);
      expectFatal(r, /^infra1: 40-etcd: cannot install \S+\/usr\/local\/bin\/etcd: \S+\/artifacts\/etcd\/etcd does not exist$/m);
    });

    it("ensure_packages: a package that does not exist (from a step's top level and from `if`)", () => {
      withApt(node, { archive: ["curl"] });
      for (const call of ["ensure_packages curl galley-no-such-package", "if ensure_packages curl galley-no-such-package; then :; fi"]) {
        const r = node.run(call);
        expectFatal(r, /^infra1: 40-etcd: cannot install packages curl galley-no-such-package: E: Unable to locate package galley-no-such-package \(apt-get exited 100\)$/m);
      }
    });

    it("ensure_packages: apt-get update fails", () => {
      withApt(node, { archive: ["curl"], update: `echo "E: Failed to fetch http://deb.example/dists/bookworm/InRelease  Temporary failure resolving 'deb.example'"; exit 100` });
      const r = node.run("ensure_packages curl || :");
      expectFatal(r, /^infra1: 40-etcd: cannot install packages curl \(apt-get update\): E: Failed to fetch .*Temporary failure resolving 'deb\.example' \(apt-get exited 100\)$/m);
    });

    it("ensure_packages: apt-get says it installed a package that dpkg does not list", () => {
      withApt(node, { archive: ["curl"] });
      writeFileSync(path.join(node.t, "archive.lies"), "");
      const r = node.run("ensure_packages curl || :");
      expectFatal(r, /^infra1: 40-etcd: cannot install packages curl: apt-get succeeded, but dpkg does not list curl as installed$/m);
    });

    it("ensure_enabled: a unit that fails to enable", () => {
      node.stub("systemctl", systemctl);
      mkdirSync(path.join(node.t, "units"));
      writeFileSync(path.join(node.t, "units", "etcd.broken"), "");
      const r = node.run("ensure_enabled etcd || :");
      expectFatal(r, /^infra1: 40-etcd: cannot enable etcd: Failed to enable unit: Unit file etcd\.service does not exist\. \(systemctl exited 1\)$/m);
    });

    it("ensure_started and restart_unit: a unit that fails to start", () => {
      node.stub("systemctl", systemctl);
      mkdirSync(path.join(node.t, "units"));
      writeFileSync(path.join(node.t, "units", "etcd.broken"), "");
      expectFatal(node.run("ensure_started etcd --no-block || :"), /^infra1: 40-etcd: cannot start etcd: Job for etcd\.service failed because .* \(systemctl exited 1\)$/m);
      expectFatal(node.run("restart_unit etcd --no-block || :"), /^infra1: 40-etcd: cannot restart etcd: Job for etcd\.service failed because .* \(systemctl exited 1\)$/m);
    });

    it("daemon_reload: systemd refuses", () => {
      node.stub("systemctl", systemctl);
      mkdirSync(path.join(node.t, "units"));
      writeFileSync(path.join(node.t, "units", "daemon-reload.broken"), "");
      expectFatal(node.run("daemon_reload || :"), /^infra1: 40-etcd: cannot reload systemd's unit files \(daemon-reload\): Failed to reload daemon: Access denied \(systemctl exited 1\)$/m);
    });

    it("ensure_dir: a folder that cannot be made", () => {
      writeFileSync(path.join(node.t, "lib"), "a file where a folder should be");
      expectFatal(node.run(`ensure_dir "$T/lib/etcd" 700 "$OWNER" || :`), /^infra1: 40-etcd: cannot create \S+\/lib\/etcd: install: .*Not a directory/m);
    });

    it("require_artifact: a configured artifact without the binaries, and a required one not configured", () => {
      mkdirSync(path.join(node.t, "artifacts", "etcd"), { recursive: true });
      writeFileSync(path.join(node.t, "artifacts", "etcd", "etcd"), "#!/bin/sh\n", { mode: 0o755 });
      expectFatal(
        node.run("require_artifact etcd etcd etcdctl", { GALLEY_ARTIFACTS: "etcd fleet" }),
        /^infra1: 40-etcd: artifact etcd has no etcdctl in \S+\/artifacts\/etcd \(configured: etcd fleet\)$/m,
      );
      rmSync(path.join(node.t, "artifacts", "etcd", "etcd"));
      expectFatal(
        node.run("require_artifact etcd etcd etcdctl", { GALLEY_ARTIFACTS: "etcd fleet" }),
        /^infra1: 40-etcd: artifact etcd has no etcd, etcdctl in \S+\/artifacts\/etcd \(configured: etcd fleet\)$/m,
      );
      expectFatal(
        node.run("require_artifact fleet fleetd fleetctl", { GALLEY_ARTIFACTS: "etcd" }),
        /^infra1: 40-etcd: artifact fleet is not configured \(configured: etcd\); this provisioning needs its fleetd fleetctl$/m,
      );
    });

    it("a command a step runs without a check still names node and step (report_unhandled_errors)", () => {
      const r = node.run(`report_unhandled_errors\nls "$T/no-such-file"`);
      expectFatal(r, /^infra1: 40-etcd: `ls "\$T\/no-such-file"` failed \(exit 2\)$/m);
    });
  });

  describe(`${name}: a success reports exactly what changed, and a second run nothing`, function () {
    let node: Node;
    beforeEach(() => (node = new Node(lib)));
    afterEach(() => node.remove());

    it("put_file writes when content, mode or owner differ, and says whether it wrote", () => {
      const write = (mode: string, content: string) =>
        node.run(`if put_file "$T/etc/etcd.service" ${mode} "$OWNER" <<< "${content}"; then echo "wrote it"; else echo "already right"; fi`);
      let r = write("644", "[Unit]");
      expectOk(r);
      expect(r.changes).to.deep.equal([`40-etcd: wrote ${node.t}/etc/etcd.service`]);
      expect(r.stdout).to.match(/wrote it/);
      expect(readFileSync(path.join(node.t, "etc", "etcd.service"), "utf8")).to.equal("[Unit]\n");
      expect(statSync(path.join(node.t, "etc", "etcd.service")).mode & 0o777).to.equal(0o644);
      r = write("0644", "[Unit]");
      expectOk(r);
      expect(r.changes, "same content, mode and owner").to.deep.equal([]);
      expect(r.stdout).to.match(/already right/);
      r = write("600", "[Unit]");
      expect(r.changes, "mode differs").to.deep.equal([`40-etcd: wrote ${node.t}/etc/etcd.service`]);
      r = write("600", "[Service]");
      expect(r.changes, "content differs").to.deep.equal([`40-etcd: wrote ${node.t}/etc/etcd.service`]);
      expect(node.leftovers(), "temp files").to.deep.equal([]);
    });

    it("put_file replaces a masked unit (a link to /dev/null) instead of writing through it", () => {
      mkdirSync(path.join(node.t, "etc"));
      symlinkSync("/dev/null", path.join(node.t, "etc", "etcd.service"));
      const r = node.run(`put_file "$T/etc/etcd.service" 644 "$OWNER" <<< "[Unit]" || :`);
      expectOk(r);
      expect(r.changes).to.deep.equal([`40-etcd: wrote ${node.t}/etc/etcd.service`]);
      expect(readFileSync(path.join(node.t, "etc", "etcd.service"), "utf8")).to.equal("[Unit]\n");
    });

    it("install_binary installs a new or changed binary only", () => {
      writeFileSync(path.join(node.t, "etcd"), "#!/bin/sh\necho 3.4\n");
      const install = `if install_binary "$T/etcd" "$T/usr/local/bin/etcd"; then echo installed; fi`;
      expect(node.run(install).changes).to.deep.equal([`40-etcd: installed ${node.t}/usr/local/bin/etcd`]);
      const again = node.run(install);
      expectOk(again);
      expect(again.changes).to.deep.equal([]);
      expect(again.stdout).to.not.match(/installed/);
      writeFileSync(path.join(node.t, "etcd"), "#!/bin/sh\necho 3.6\n");
      expect(node.run(install).changes).to.deep.equal([`40-etcd: installed ${node.t}/usr/local/bin/etcd`]);
    });

    it("ensure_packages installs only what is missing and never calls apt-get when nothing is", () => {
      withApt(node, { archive: ["curl", "etcd-server"] });
      writeFileSync(path.join(node.t, "installed", "curl"), "");
      const r = node.run("ensure_packages curl etcd-server");
      expectOk(r);
      expect(r.changes).to.deep.equal(["40-etcd: installed packages etcd-server"]);
      expect(node.calls().filter((c) => c.startsWith("apt-get"))).to.deep.equal(["apt-get update -qq", "apt-get install -y -qq --no-install-recommends etcd-server"]);
      const again = node.run("ensure_packages curl etcd-server");
      expectOk(again);
      expect(again.changes).to.deep.equal([]);
      expect(node.calls().filter((c) => c.startsWith("apt-get")), "no apt-get on the second run").to.have.length(2);
    });

    it("ensure_enabled, ensure_started and restart_unit report what they did, and nothing when the unit is already right", () => {
      node.stub("systemctl", systemctl);
      const r = node.run("ensure_enabled etcd\nensure_started etcd --no-block");
      expectOk(r);
      expect(r.changes).to.deep.equal(["40-etcd: enabled etcd", "40-etcd: started etcd"]);
      expect(node.calls()).to.include("systemctl start --no-block etcd");
      const again = node.run("ensure_enabled etcd\nensure_started etcd --no-block");
      expectOk(again);
      expect(again.changes).to.deep.equal([]);
      expect(node.run("restart_unit etcd --no-block").changes).to.deep.equal(["40-etcd: restarted etcd"]);
    });

    it("ensure_dir creates a folder or fixes its mode, else changes nothing", () => {
      const r = node.run(`ensure_dir "$T/var/lib/etcd" 700 "$OWNER" || :`);
      expectOk(r);
      expect(r.changes).to.deep.equal([`40-etcd: created ${node.t}/var/lib/etcd`]);
      expect(node.run(`ensure_dir "$T/var/lib/etcd" 0700 "$OWNER" || :`).changes).to.deep.equal([]);
      chmodSync(path.join(node.t, "var", "lib", "etcd"), 0o755);
      expect(node.run(`ensure_dir "$T/var/lib/etcd" 700 "$OWNER" || :`).changes).to.deep.equal([`40-etcd: set ${node.t}/var/lib/etcd to mode 700, owner ${owner}`]);
    });

    it("ensure_in_group adds a user to a group only when missing", () => {
      node
        .stub("id", `[ -e "$T/in-docker" ] && echo "core docker" || echo "core"`)
        .stub("usermod", `touch "$T/in-docker"`);
      expect(node.run("ensure_in_group core docker").changes).to.deep.equal(["40-etcd: added core to docker"]);
      expect(node.run("ensure_in_group core docker").changes).to.deep.equal([]);
    });

    it("require_artifact accepts a configured artifact holding every binary", () => {
      mkdirSync(path.join(node.t, "artifacts", "etcd"), { recursive: true });
      for (const b of ["etcd", "etcdctl"]) writeFileSync(path.join(node.t, "artifacts", "etcd", b), "#!/bin/sh\n", { mode: 0o755 });
      const r = node.run("require_artifact etcd etcd etcdctl\nartifact_configured fleet || echo 'no fleet'", { GALLEY_ARTIFACTS: "etcd" });
      expectOk(r);
      expect(r.stdout).to.match(/no fleet/);
    });

    it("duration_seconds reads Go durations (fleet's agent_ttl), rounding up, and refuses anything else", () => {
      const secs = (d: string) => node.run(`duration_seconds "${d}"`);
      expect(["30s", "10s", "1m", "1m30s", "500ms", "45"].map((d) => secs(d).stdout.split("\n")[0])).to.deep.equal(["30", "10", "60", "90", "1", "45"]);
      const bad = secs("thirty");
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.match(/^infra1: 40-etcd: "thirty" is not a duration \(like 30s, 1m or 500ms\)$/m);
    });
  });
}

describe("galley.sh (shipped): steps and services", function () {
  let node: Node;
  beforeEach(() => (node = new Node(shippedLib)));
  afterEach(() => node.remove());

  it("step names the step in messages and prints the marker Galley reads", () => {
    const r = node.run("step web\nchanged something\ndie oops");
    expect(r.stdout).to.match(/^--- web$/m);
    expect(r.changes).to.deep.equal(["web: something"]);
    expect(r.stderr).to.match(/^infra1: web: oops$/m);
  });

  it("ensure_service unmasks, enables and starts a unit, restarts it only when asked, and a second run changes nothing", () => {
    node.stub("systemctl", systemctl);
    mkdirSync(path.join(node.t, "units"));
    writeFileSync(path.join(node.t, "units", "lighttpd.masked"), "");
    const r = node.run("ensure_service lighttpd");
    expectOk(r);
    expect(r.changes).to.deep.equal(["40-etcd: unmasked lighttpd", "40-etcd: enabled lighttpd", "40-etcd: started lighttpd"]);
    expect(node.run("ensure_service lighttpd").changes).to.deep.equal([]);
    expect(node.run("ensure_service lighttpd yes").changes).to.deep.equal(["40-etcd: restarted lighttpd"]);
  });

  it("ensure_service: a unit that fails to start ends the converge naming the unit", () => {
    node.stub("systemctl", systemctl);
    mkdirSync(path.join(node.t, "units"));
    writeFileSync(path.join(node.t, "units", "web.enabled"), "");
    writeFileSync(path.join(node.t, "units", "web.broken"), "");
    expectFatal(node.run("ensure_service web"), /^infra1: 40-etcd: cannot start web: Job for web\.service failed because .* \(systemctl exited 1\)$/m);
  });
});

describe("fixture lib.sh: the etcd ≥ 3.6 verdict is observed, not inferred (observe_fleet_without_v2)", function () {
  let node: Node;
  beforeEach(() => {
    node = new Node()
      // sudo -u core -i fleetctl … → the fleetctl stub; journalctl -u fleet → a journal with fleetd's complaint.
      .stub("sudo", `shift 3; exec "$@"`)
      .stub("journalctl", `printf '%s\n' "INFO server.go:150: Starting server components" "WARN server.go:223: Server register machine failed: client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint., retrying in 1 sec." "INFO engine.go:85: Engine leadership lost"`);
  });
  afterEach(() => node.remove());

  const fleetctlFails = `echo "2026/11/26 02:49:36 ERROR fleetctl.go:211: error attempting to check latest fleet version in Registry: client: response is invalid json." >&2
echo "Error retrieving list of active machines from fleet API (client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.)" >&2
printf '%s\n' "Possible issues:" "  etcd is unhealthy and/or lost quorum" >&2
exit 1`;

  it("watches fleet for one agent TTL, then reports in one line what fleetctl and fleetd said", () => {
    node.stub("fleetctl", fleetctlFails);
    const start = Date.now();
    const r = node.run(`observe_fleet_without_v2 3.6.16 404 2s || exit 7`);
    expect(r.code, r.stderr).to.equal(7);
    expect(Date.now() - start, "waited one agent TTL").to.be.at.least(2000);
    expect(node.calls().filter((c) => c.startsWith("fleetctl list-machines")).length, "polled").to.be.at.least(2);
    expect(r.stderr.split("\n").filter(Boolean)).to.deep.equal([
      'etcd 3.6.16 does not serve the v2 API (HTTP 404 on /v2/keys): fleet cannot register: after one agent TTL (2s) fleetctl list-machines said ' +
        '"Error retrieving list of active machines from fleet API (client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.)" and fleetd logged ' +
        '"WARN server.go:223: Server register machine failed: client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint., retrying in 1 sec."',
    ]);
    // The matrix e2e test matches the verdict this way.
    expect(r.stderr).to.match(/etcd 3\.6\.\d+ does not serve the v2 API \(HTTP 404 on \/v2\/keys.*\): fleet cannot register/);
    expect(node.leftovers(), "temp files").to.deep.equal([]);
  });

  it("a fleetctl that exits 0 but lists nothing is no machine", () => {
    node.stub("fleetctl", `echo "ERROR fleetctl.go:211: error attempting to check latest fleet version in Registry" >&2`);
    const r = node.run(`observe_fleet_without_v2 3.6.16 404 1s || exit 7`);
    expect(r.code, r.stderr).to.equal(7);
    expect(r.stderr).to.match(/fleetctl list-machines said "ERROR fleetctl\.go:211: error attempting to check latest fleet version in Registry" and fleetd logged "WARN /);
  });

  it("stops as soon as fleet lists a machine (it works after all), long before the TTL", () => {
    node.stub("fleetctl", `n=$(grep -c '^fleetctl list-machines' "$T/calls"); [ "$n" -ge 2 ] || { ${fleetctlFails.split("\n").join("; ")}; }
printf '4f1f8a3c...\t10.0.0.2\tregion=eu-central-1\n'`);
    const start = Date.now();
    const r = node.run(`observe_fleet_without_v2 3.6.16 404 30s`);
    expectOk(r);
    expect(Date.now() - start).to.be.below(10_000);
    expect(r.stdout).to.match(/^etcd 3\.6\.16 answers HTTP 404 on \/v2\/keys, yet fleet lists machines: going on$/m);
    expect(r.stderr).to.equal("");
  });
});

/** rpm and dnf (or yum) over $T/installed/<pkg, / as _>: dnf install "installs" only what $T/archive lists. */
function withRpm(node: Node, pm: "dnf" | "yum", { archive }: { archive: string[] }): Node {
  mkdirSync(path.join(node.t, "installed"), { recursive: true });
  writeFileSync(path.join(node.t, "archive"), archive.map((p) => p + "\n").join(""));
  return node
    .stub("rpm", `p=\${@: -1}; [ -e "$T/installed/\${p//\\//_}" ]`)
    .stub(pm, `
[ "$1" = install ] || { echo "unexpected ${pm} $*" >&2; exit 3; }
for p in "$@"; do case $p in -*|install) continue ;; esac
  grep -qx "$p" "$T/archive" || { echo "No match for argument: $p"; echo "Error: Unable to find a match: $p"; exit 1; }
done
for p in "$@"; do case $p in -*|install) continue ;; esac; [ -e "$T/archive.lies" ] || touch "$T/installed/\${p//\\//_}"; done`);
}

describe("fixture lib.sh: packages on Red Hat's family (dnf, yum), as on Rocky Linux and CentOS nodes", function () {
  let node: Node;
  beforeEach(() => (node = new Node()));
  afterEach(() => node.remove());
  const dnf = { PACKAGE_MANAGER: "dnf" };

  it("package_manager finds apt-get first, then dnf, then yum; PACKAGE_MANAGER forces one", () => {
    node.stub("dnf", "").stub("yum", "");
    const which = (setup: string) => node.run(`${setup}\nPATH=$T/bin; echo "pm=$(package_manager)"`).stdout.match(/pm=(\w+)/)?.[1];
    expect(which("")).to.equal("dnf");
    expect(which("rm $T/bin/dnf")).to.equal("yum");
    expect(which("rm $T/bin/yum")).to.equal("none");
    expect(node.run(`echo "pm=$(package_manager)"`, { PACKAGE_MANAGER: "yum" }).stdout).to.match(/pm=yum/);
    expect(node.run(`echo "pm=$(package_manager)"`).stdout, "this Debian host").to.match(/pm=apt/);
  });

  it("ensure_packages installs only what rpm does not list (by name, capability or file) with dnf, and a second run changes nothing", () => {
    withRpm(node, "dnf", { archive: ["openssh-server", "/usr/bin/curl", "docker-ce"] });
    writeFileSync(path.join(node.t, "installed", "_usr_bin_curl"), ""); // curl-minimal provides it
    const r = node.run("ensure_packages /usr/bin/curl openssh-server docker-ce", dnf);
    expectOk(r);
    expect(r.changes).to.deep.equal(["40-etcd: installed packages openssh-server docker-ce"]);
    expect(node.calls().filter((c) => /^(dnf|apt-get)/.test(c))).to.deep.equal(["dnf install -y -q openssh-server docker-ce"]);
    expect(node.calls()).to.include("rpm -q --quiet --whatprovides /usr/bin/curl");
    const again = node.run("ensure_packages /usr/bin/curl openssh-server docker-ce", dnf);
    expectOk(again);
    expect(again.changes).to.deep.equal([]);
    expect(node.calls().filter((c) => c.startsWith("dnf")), "no dnf on the second run").to.have.length(1);
  });

  it("yum (EL 7) is told not to skip a package it cannot find", () => {
    withRpm(node, "yum", { archive: ["sudo"] });
    expectOk(node.run("ensure_packages sudo", { PACKAGE_MANAGER: "yum" }));
    expect(node.calls().filter((c) => c.startsWith("yum"))).to.deep.equal(["yum install -y -q --setopt=skip_missing_names_on_install=False sudo"]);
  });

  it("failures name node, step and package manager, and are never a change", () => {
    withRpm(node, "dnf", { archive: ["sudo"] });
    // Docker CE comes from Docker's repository: a box without it cannot install docker-ce.
    expectFatal(node.run("ensure_packages sudo docker-ce || :", dnf), /^infra1: 40-etcd: cannot install packages sudo docker-ce: No match for argument: docker-ce; Error: Unable to find a match: docker-ce \(dnf exited 1\)$/m);
    writeFileSync(path.join(node.t, "archive.lies"), "");
    expectFatal(node.run("ensure_packages sudo || :", dnf), /^infra1: 40-etcd: cannot install packages sudo: dnf succeeded, but rpm does not list sudo as installed$/m);
    expectFatal(node.run("ensure_packages sudo || :", { PACKAGE_MANAGER: "none" }), /^infra1: 40-etcd: cannot install packages sudo: this node has no apt-get, dnf or yum$/m);
  });
});

// The fixture keeps its own copy of the generic helpers so it runs without Galley (harness/bench's raw
// script, Vagrant and Molecule peers upload only the fixture): a checked copy, not a drifting one.
describe("the fixture's lib.sh and Galley's galley.sh", () => {
  const functions = (file: string) =>
    new Map([...readFileSync(file, "utf8").matchAll(/^([a-z_]+)\(\) \{\n[\s\S]*?^\}\n/gm)].map((m) => [m[1]!, m[0]]));

  it("define every helper they share with the same code", () => {
    const fixture = functions(fixtureLib);
    const shipped = functions(shippedLib);
    const shared = [...fixture.keys()].filter((name) => shipped.has(name));
    expect(shared.length, "helpers in both").to.be.greaterThan(15);
    const differing = shared.filter((name) => fixture.get(name) !== shipped.get(name));
    expect(differing, "helpers whose code differs between fixtures/fleet-cluster/lib.sh and harness/lib/galley.sh").to.deep.equal([]);
  });
});
