// The Docker driver's evidence for one node (kind's CollectLogs, for systemd boxes): the container's
// description and console, and — through docker exec while it runs, else from its filesystem on the
// host — the journal (export and text), failed units with `systemctl status`, all units, and the
// network state from the node's namespace. A node that is down or frozen still gives what can be read.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { messageOf } from "../../errors.ts";
import type { InstanceState } from "../../state/state-file.ts";
import { DockerExecTransport } from "../../transports/docker-exec.ts";
import type { CollectReport } from "../driver.ts";
import { docker } from "./client.ts";
import { dockerNetworkFaults } from "./netfaults.ts";
import { tarFs } from "../../util/lazy-modules.ts";

const run = promisify(execFile);

export async function collectNode(state: InstanceState, node: string, dir: string): Promise<CollectReport> {
  const files: string[] = [];
  const missing: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    files.push(name);
  };
  const id = state.nodes[node]?.container;
  if (!id) return { files, missing: ["everything: the state names no container for this node"] };
  const c = (await docker()).getContainer(id);
  const info = await c.inspect().catch((e: Error) => e);
  if (info instanceof Error) return { files, missing: [`everything: its container ${id.slice(0, 12)} cannot be inspected (${info.message})`] };
  write("docker-inspect.json", JSON.stringify(info, null, 2) + "\n");
  const status = `${info.State.Paused ? "paused" : info.State.Status}, exit code ${info.State.ExitCode}`;
  try {
    const logs = (await c.logs({ stdout: true, stderr: true, timestamps: true, tail: 2000 })) as unknown as Buffer;
    write("console.log", demux(logs));
  } catch (err) {
    missing.push(`console: ${messageOf(err)}`);
  }

  if (info.State.Running && !info.State.Paused) {
    const conn = await new DockerExecTransport(60_000).connect({ name: node, ip: "", container: id });
    const capture = async (name: string, script: string) => {
      const r = await conn.exec(script, { timeoutMs: 60_000 }).catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
      if (r.exitCode === 0 || r.stdout) write(name, r.stdout + (r.exitCode === 0 ? "" : `\n(exit ${r.exitCode}: ${r.stderr.trim()})\n`));
      else missing.push(`${name}: exit ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`);
    };
    await capture("journal.export", "journalctl -o export --no-pager");
    await capture("journal.txt", "journalctl -o short-iso-precise --no-pager");
    await capture("failed-units.txt", "systemctl --failed --no-legend --plain --no-pager; for u in $(systemctl --failed --no-legend --plain --no-pager | awk '{print $1}'); do echo; echo \"### systemctl status $u\"; systemctl status -l --no-pager \"$u\" || true; done");
    await capture("units.txt", "systemctl list-units --all --no-pager --plain");
  } else {
    // Down or frozen: the journal files are still in the container's filesystem; the host reads them.
    const tmp = mkdtempSync(path.join(dir, ".journal-"));
    try {
      const archive = await c.getArchive({ path: "/var/log/journal" });
      await pipeline(archive, tarFs().extract(tmp));
      for (const [name, args] of [["journal.export", ["-o", "export"]], ["journal.txt", ["-o", "short-iso-precise"]]] as const) {
        try {
          const r = await run("journalctl", ["-D", path.join(tmp, "journal"), "--no-pager", ...args], { maxBuffer: 512 * 1024 * 1024 });
          write(name, r.stdout);
        } catch (err) {
          missing.push(`${name}: the node is ${status}; the host's journalctl could not read its journal files (${messageOf(err).split("\n")[0]})`);
        }
      }
    } catch (err) {
      missing.push(`journal: the node is ${status} and its journal files could not be copied out (${messageOf(err)})`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    missing.push(`failed units and systemctl status: the node is ${status}, so its systemd cannot be asked`);
  }
  try {
    write("network.txt", await dockerNetworkFaults.describe(state, node));
  } catch (err) {
    missing.push(`network: ${messageOf(err)}`);
  }
  return { files, missing };
}

/** Docker's multiplexed log stream (8-byte frame headers) as text. */
function demux(buf: Buffer): string {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const len = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return i === 0 ? buf.toString() : Buffer.concat(out).toString();
}

