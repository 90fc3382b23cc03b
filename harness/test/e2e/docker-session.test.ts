// The docker-exec transport's session shell (transports/docker-session.ts) against a real container of
// the debian-12 box: answers are the command's own (exit code, both outputs, environment, timeouts, a
// megabyte of output, many at once), one exec serves them all, and a paused, restarted or killed node
// gets the same outcome a plain exec gives, with nothing run late.
import { expect } from "chai";
import { createHash } from "node:crypto";
import path from "node:path";
import Docker from "dockerode";
import { loadBox, SHIPPED_BOXES } from "../../src/boxes/definition.ts";
import { ensureBox } from "../../src/drivers/docker/box.ts";
import { DockerExecTransport } from "../../src/transports/docker-exec.ts";
import type { Connection } from "../../src/transports/transport.ts";

describe("docker-exec transport: the session shell", function () {
  const d = new Docker();
  let container: Docker.Container;
  let conn: Connection;

  before(async () => {
    const image = await ensureBox(loadBox(path.join(SHIPPED_BOXES, "debian-12")));
    container = await d.createContainer({ Image: image, Entrypoint: ["sleep", "infinity"], Labels: { "galley.e2e": "docker-session" }, HostConfig: { AutoRemove: false } });
    await container.start();
    conn = await new DockerExecTransport(60_000).connect({ name: "session-node", ip: "", container: container.id });
  });
  after(async () => {
    await conn?.close();
    await container?.remove({ force: true });
  });

  /** Docker's exec_create events for the container while `work` runs: how many execs it took. */
  async function execsDuring(work: () => Promise<void>): Promise<number> {
    const startedMs = Date.now();
    const since = Math.floor(startedMs / 1000) - 1;
    await work();
    const until = Math.ceil(Date.now() / 1000) + 1;
    const raw = (await d.getEvents({ since, until, filters: { container: [container.id], event: ["exec_create"] } })) as unknown;
    const text = Buffer.isBuffer(raw) ? raw.toString() : await new Promise<string>((resolve) => {
      let s = "";
      (raw as NodeJS.ReadableStream).on("data", (b) => (s += b)).on("end", () => resolve(s));
    });
    const events = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { Action?: string; timeNano: number });
    return events.filter((e) => e.Action?.startsWith("exec_create") && e.timeNano / 1e6 >= startedMs).length;
  }

  it("answers with the command's exit code, stdout, stderr and environment, from one exec for twenty commands", async () => {
    await conn.exec("true"); // opens the session
    let results: Awaited<ReturnType<Connection["exec"]>>[] = [];
    const execs = await execsDuring(async () => {
      results = [];
      for (let i = 0; i < 20; i++) results.push(await conn.exec(`echo "out ${i} $GREETING"; echo "err ${i}" >&2; exit ${i % 7}`, { env: { GREETING: "hello world's" } }));
    });
    results.forEach((r, i) => {
      expect(r.exitCode, `command ${i}`).to.equal(i % 7);
      expect(r.stdout).to.equal(`out ${i} hello world's\n`);
      expect(r.stderr).to.equal(`err ${i}\n`);
    });
    expect(execs, "execs Docker created for 20 commands on an open session").to.equal(0);
  });

  it("keeps strict mode, times out as a plain exec does, and returns a megabyte of output intact", async () => {
    expect((await conn.exec("false | true; echo after")).exitCode, "pipefail").to.not.equal(0);
    expect((await conn.exec("sleep 5", { timeoutMs: 1_000 })).exitCode, "timeout").to.equal(124);
    const r = await conn.exec("head -c 1048576 /dev/urandom | base64 -w 100 | tee /root/big | sha256sum | cut -d' ' -f1; cat /root/big");
    const [sum, ...rest] = r.stdout.split("\n");
    expect(createHash("sha256").update(rest.join("\n")).digest("hex")).to.equal(sum);
    expect(rest.join("\n").length).to.be.greaterThan(1_300_000);
  });

  it("answers twenty concurrent commands, each with its own output", async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.exec(`sleep 0.$((RANDOM % 3)); echo ${i}; echo e${i} >&2`)));
    expect(rs.map((r) => r.stdout.trim())).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(rs.map((r) => r.stderr.trim())).to.deep.equal(Array.from({ length: 20 }, (_, i) => `e${i}`));
  });

  it("a paused node: the command fails as a plain exec does, and never runs after the node is thawed", async () => {
    await conn.exec("rm -f /root/late");
    await container.pause();
    try {
      const err = await conn.exec("touch /root/late").then(() => undefined, (e: Error) => e);
      expect(err?.message, "a plain exec on a paused container").to.match(/session-node.*paused/is);
    } finally {
      await container.unpause();
    }
    // The shell reads requests in order: once a later one is answered, the earlier one was read (late).
    expect((await conn.exec("test -e /root/late && echo ran || echo not-run")).stdout.trim()).to.equal("not-run");
  });

  it("a node killed during a command: exit -1 at once, and the next command opens a new session", async () => {
    const running = conn.exec("sleep 30");
    await new Promise((r) => setTimeout(r, 500));
    const t = Date.now();
    await container.restart({ t: 0 });
    const r = await running;
    expect(r.exitCode).to.equal(-1);
    expect(Date.now() - t, "ms until the cut-off command returned").to.be.below(15_000);
    expect((await conn.exec("echo back")).stdout).to.equal("back\n");
  });
});
