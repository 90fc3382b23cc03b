// One Docker client per process, checked once: a missing daemon is the most common first-run failure and
// deserves a message that says what to do. dockerode is loaded on first use: commands that never talk to
// Docker (galley list, init) start without it.
import type Docker from "dockerode";
import { EnvironmentError } from "../../errors.ts";

let client: Promise<Docker> | undefined;

export function docker(): Promise<Docker> {
  client ??= (async () => {
    const { default: Dockerode } = await import("dockerode");
    const d = new Dockerode();
    try {
      await d.ping();
    } catch (err) {
      const where = process.env.DOCKER_HOST ?? "/var/run/docker.sock";
      throw new EnvironmentError(
        `no Docker daemon answers at ${where} (${(err as Error).message}).\n` +
          `Start one: \`sudo systemctl start docker\`, or \`sudo dockerd >/tmp/dockerd.log 2>&1 &\` where systemd is absent; ` +
          `install it with \`sudo apt-get install -y docker.io\`. Set DOCKER_HOST for a remote daemon.`,
      );
    }
    return d;
  })();
  return client;
}

export const isNotFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
