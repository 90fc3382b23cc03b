// What `galley doctor` says about Docker: which engine answers (and where that came from), whether it is
// on this machine, which systemd recipe it allows (privileged or capabilities; cgroup v1 or v2), its disk,
// and the host's inotify budget (for an engine on this machine only: a remote one's is not ours to read).
import { existsSync } from "node:fs";
import { diskCheck, type Check } from "../../util/check.ts";
import { onPath } from "../../util/which.ts";
import { dockerHost, forgetDockerHost, type DockerHost } from "./client.ts";
import { configuredEndpoint } from "./host.ts";
import { INOTIFY_PER_BOX, INOTIFY_WANTED, readInotifyLimit } from "./host-limits.ts";
import { probedRecipe } from "./systemd.ts";

const sudo = () => (process.getuid?.() === 0 ? "" : "sudo ");

/** How to get an engine running here, as one command line. */
export function startDockerCommand(): string {
  const start = existsSync("/run/systemd/system") ? `${sudo()}systemctl start docker` : `${sudo()}sh -c 'dockerd >/var/log/galley-dockerd.log 2>&1 &'`;
  return onPath("dockerd") ? start : `${sudo()}apt-get install -y docker.io && ${start}`;
}

export async function dockerChecks(): Promise<Check[]> {
  forgetDockerHost();
  let host: DockerHost;
  try {
    host = await dockerHost();
  } catch (err) {
    const configured = configuredEndpoint();
    const message = (err as Error).message.split("\n")[0]!;
    if (configured) {
      return [{ name: "docker engine", status: "missing", detail: message, fix: `start the engine ${configured.source} names, or unset it to use this machine's` }];
    }
    return [{ name: "docker engine", status: "missing", detail: message, fix: startDockerCommand(), apt: onPath("dockerd") ? undefined : ["docker.io"], action: "start-docker", does: "start the Docker daemon" }];
  }
  const { endpoint, info, local } = host;
  const checks: Check[] = [{
    name: "docker engine",
    status: "ok",
    detail: `Docker ${info.ServerVersion} at ${endpoint.uri} (${endpoint.source}), ${local ? "on this machine" : "not on this machine: the host-side checks that read /proc (inotify budget, nested cgroup clean-up) are skipped"}`,
  }];
  const cgroupVersion: "1" | "2" = info.CgroupVersion === "2" ? "2" : "1";
  const recipe = probedRecipe(info.ID, cgroupVersion);
  checks.push({
    name: "systemd recipe",
    status: "ok",
    detail: recipe
      ? `${recipe.mode === "privileged" ? "--privileged" : `capabilities (--privileged is refused${recipe.capDrop.length ? `; the engine cannot grant ${recipe.capDrop.join(", ")}` : ""})`}, cgroup v${cgroupVersion}`
      : `cgroup v${cgroupVersion}; privileged or capabilities is probed at the first create (with the box image) and remembered`,
  });
  if (local) {
    if (info.DockerRootDir) checks.push(diskCheck("docker disk", String(info.DockerRootDir), `free space in ${info.DockerRootDir} (\`docker system prune\` removes what nothing uses)`));
    checks.push(inotifyCheck());
  }
  return checks;
}

export function inotifyCheck(limit: () => number = readInotifyLimit): Check {
  let n: number;
  try {
    n = limit();
  } catch {
    return { name: "inotify instances", status: "ok", detail: "no limit to read here" };
  }
  const nodes = Math.floor(n / INOTIFY_PER_BOX);
  if (n >= INOTIFY_WANTED) return { name: "inotify instances", status: "ok", detail: `fs.inotify.max_user_instances = ${n}` };
  return {
    name: "inotify instances",
    status: "warn",
    detail: `fs.inotify.max_user_instances = ${n}: room for about ${nodes} systemd nodes at once (each takes ${INOTIFY_PER_BOX}); more boot "degraded"`,
    fix: `${sudo()}sysctl -w fs.inotify.max_user_instances=${INOTIFY_WANTED} (and fs.inotify.max_user_instances=${INOTIFY_WANTED} in /etc/sysctl.d/ to keep it)`,
    action: "raise-inotify",
    does: `raise fs.inotify.max_user_instances to ${INOTIFY_WANTED}`,
  };
}
