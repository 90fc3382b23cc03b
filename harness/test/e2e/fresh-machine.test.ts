// A fresh machine with only Node.js and npm, given the README's command, ends with the main job passing.
// The machine is a container from the cached debian-12 box image (Debian 12, no Node, no debootstrap,
// no Go; its Docker binaries are removed), with this host's node and npm copied in, the repository
// copied in (without node_modules), and this host's Docker socket mounted: the engine is "not on this
// machine" as far as Galley inside can tell. Inside: `npm ci && npx galley setup && npx galley test
// static-debian-12`. setup must see the engine answering (and not start one), install debootstrap with
// apt, find no Go and no GOPROXY, so install Debian's Go only to learn the module proxy, fetch the
// pinned toolchain through it, and the fleet recipe builds with that. The network's CA bundle is copied
// in too (this network intercepts TLS; any machine on it has that bundle).
// It takes 5 to 10 minutes (apt, the toolchain, fleet's build, a cold main job), more than `npm test`'s
// budget: it runs with GALLEY_E2E_FRESH_MACHINE=1 (see the README's "The two commands").
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { loadBox } from "../../src/boxes/definition.ts";
import { ensureBox, imageOf } from "../../src/drivers/docker/box.ts";
import { LeakWatch, repo } from "./helpers.ts";

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** A tar stream of host paths, as `tar` writes it (relative to `cwd`). */
function tarOf(cwd: string, args: string[]): NodeJS.ReadableStream {
  const tar = spawn("tar", ["-C", cwd, "-cf", "-", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return tar.stdout;
}

async function exec(c: Docker.Container, script: string, env: string[] = [], onOutput?: (text: string) => void): Promise<{ code: number; output: string }> {
  const e = await c.exec({ Cmd: ["bash", "-c", script], Env: env, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({});
  const out = new PassThrough();
  let output = "";
  out.on("data", (b: Buffer) => {
    output += b;
    onOutput?.(b.toString());
  });
  c.modem.demuxStream(stream, out, out);
  await new Promise((resolve) => stream.on("end", resolve));
  const { ExitCode } = await e.inspect();
  return { code: ExitCode ?? 1, output };
}

describe("a fresh machine with only Node.js and npm: the README's command", function () {
  const d = new Docker();
  let container: Docker.Container | undefined;
  let watch: LeakWatch;

  before(async function () {
    if (process.env.GALLEY_E2E_FRESH_MACHINE !== "1") {
      console.log("    (skipped: GALLEY_E2E_FRESH_MACHINE=1 runs it, 5 to 10 minutes)");
      this.skip();
    }
    if (!existsSync(CA_BUNDLE)) this.skip();
    const image = await ensureBox(loadBox(path.join(repo, "harness", "boxes", "debian-12")));
    expect(image).to.equal(imageOf(loadBox(path.join(repo, "harness", "boxes", "debian-12"))));
    // The inner Galley labels what it makes with the project of its own checkout, /work/repo.
    watch = await LeakWatch.start(["/work/repo"]);
    container = await d.createContainer({
      name: `galley-fresh-machine-${process.pid}`,
      Image: image,
      Entrypoint: ["sleep", "infinity"],
      Cmd: [],
      Labels: { "galley.e2e": "fresh-machine" },
      HostConfig: { Binds: ["/var/run/docker.sock:/var/run/docker.sock"], Init: true },
    });
    await container.start();
  });

  after(async () => {
    // Whatever the inner run left (it destroys its instance when it passes), then the machine itself.
    if (container) {
      await exec(container, "cd /work/repo && [ -x node_modules/.bin/galley ] && npx galley destroy static-debian-12 || true").catch(() => {});
      await container.remove({ force: true, v: true });
    }
  });

  it("starts without Node, npm, Go, debootstrap or Docker", async () => {
    await exec(container!, "rm -f /usr/bin/docker /usr/sbin/dockerd /usr/bin/dockerd /usr/bin/containerd* /usr/sbin/containerd*");
    const r = await exec(container!, "for c in node npm go debootstrap docker dockerd; do command -v $c && echo \"found $c\"; done; ls /usr/local/go 2>/dev/null; true");
    expect(r.output.trim()).to.equal("");
  });

  it("gets Node.js, npm and the repository copied in", async () => {
    const node = realpathSync(process.execPath);
    const npm = path.dirname(path.dirname(realpathSync("/usr/bin/npm")));
    await container!.putArchive(tarOf("/", [node.slice(1), npm.slice(1), CA_BUNDLE.slice(1)]) as never, { path: "/" });
    await exec(container!, `mkdir -p /work/repo /usr/local/bin && ln -sf ${node} /usr/local/bin/node && ln -sf ${npm}/bin/npm-cli.js /usr/local/bin/npm && ln -sf ${npm}/bin/npx-cli.js /usr/local/bin/npx`);
    await container!.putArchive(
      tarOf(repo, ["--exclude=./node_modules", "--exclude=./harness/node_modules", "--exclude=./.galley", "--exclude=./.git", "--exclude=./.scratch", "--exclude=./harness/dist", "--exclude=*/.galley", "."]) as never,
      { path: "/work/repo" },
    );
    const r = await exec(container!, "node --version && npm --version && ls /work/repo/package-lock.json /work/repo/galley.yml && ! ls /work/repo/node_modules 2>/dev/null");
    expect(r.code, r.output).to.equal(0);
  });

  it("npm ci && npx galley setup && npx galley test static-debian-12 passes", async () => {
    const started = Date.now();
    const lines: string[] = [];
    const r = await exec(
      container!,
      "cd /work/repo && npm ci && npx galley setup && npx galley test static-debian-12",
      [`NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`, "CI=true", "GALLEY_VERBOSE=1"],
      (text) => lines.push(text),
    );
    const output = lines.join("");
    const log = r.code === 0 ? "" : await exec(container!, "tail -n 60 /work/repo/.galley/static-debian-12/galley.log 2>/dev/null").then((x) => x.output);
    expect(r.code, `${output.slice(-6000)}\n--- galley.log:\n${log}`).to.equal(0);
    // setup found the engine through the mounted socket, and knew it is not on this machine.
    expect(output).to.match(/✓ docker engine: Docker \S+ at unix:\/\/\/var\/run\/docker\.sock \(the default socket\), not on this machine/);
    expect(output).not.to.match(/start the Docker daemon/);
    // It installed the box build tools and Debian's Go (to learn the module proxy), then fetched the toolchain.
    expect(output).to.match(/✓ install [^\n]*debootstrap[^\n]*golang-go[^\n]* \(apt\)/);
    expect(output).to.match(/✓ fetch a Go toolchain through the module proxy/);
    expect(output).to.match(/✓ go: go1\.26\.11 \(\/root\/\.cache\/galley\/toolchains\/go1\.26\.11\.linux-amd64\/bin\/go, from Galley's cache/);
    expect(output).to.match(/ready: every prerequisite is there/);
    // fleet was built (with that toolchain), and the main job passed.
    expect(output).to.match(/✓ build fleet v1\.0\.0/);
    expect(output).to.match(/✓ verify\s+static-debian-12/);
    expect(output).to.match(/✓ destroy\s+static-debian-12/);
    console.log(`    (fresh machine to a green main job in ${Math.round((Date.now() - started) / 1000)} s)`);
    const fleet = await exec(container!, "ls /root/.cache/galley/artifacts/fleet/*/fleetd && /root/.cache/galley/toolchains/go1.26.11.linux-amd64/bin/go version -m /root/.cache/galley/artifacts/fleet/*/fleetd | head -1");
    expect(fleet.output).to.match(/go1\.26\.11/);
  });

  it("leaves nothing on the engine", async () => {
    await container!.remove({ force: true, v: true });
    container = undefined;
    expect(await watch.leftovers()).to.deep.equal([]);
  });
});
