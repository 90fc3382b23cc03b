// Starting a Docker daemon on this machine for `galley setup`: through systemd where it runs, else
// dockerd in the background (it outlives Galley), logging to a file. Then waits until it answers.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { EnvironmentError } from "../../errors.ts";
import { tail } from "../../util/lines.ts";
import { onPath } from "../../util/which.ts";
import { dockerHost, forgetDockerHost, type DockerHost } from "./client.ts";

export const DOCKERD_LOG = "/var/log/galley-dockerd.log";

export async function startDockerEngine(progress: (t: string) => void): Promise<DockerHost> {
  let how: string;
  if (existsSync("/run/systemd/system")) {
    how = "systemctl start docker";
    progress(how);
    const r = spawnSync("systemctl", ["start", "docker"], { encoding: "utf8" });
    if (r.status !== 0) throw new EnvironmentError(`\`systemctl start docker\` failed (exit ${r.status}): ${tail(`${r.stdout}${r.stderr}`, 5)}\n(\`journalctl -u docker\` says why)`);
  } else {
    const dockerd = onPath("dockerd");
    if (!dockerd) throw new EnvironmentError("dockerd is not installed: `apt-get install -y docker.io`");
    how = `dockerd in the background (log: ${DOCKERD_LOG})`;
    progress(how);
    const log = openSync(DOCKERD_LOG, "a");
    spawn(dockerd, [], { detached: true, stdio: ["ignore", log, log] }).unref();
  }
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline) {
    forgetDockerHost();
    try {
      return await dockerHost();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const logTail = existsSync(DOCKERD_LOG) && !how.startsWith("systemctl") ? `\nlast lines of ${DOCKERD_LOG}:\n${tail(readFileSync(DOCKERD_LOG, "utf8"), 15)}` : "";
  throw new EnvironmentError(`started ${how}, but no engine answered within 60 s: ${(last as Error)?.message?.split("\n")[0]}${logTail}`);
}
