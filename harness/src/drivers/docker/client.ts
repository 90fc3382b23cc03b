// One Docker client per process, checked once: a missing daemon is the most common first-run failure and
// deserves a message that says what to do. Which engine: host.ts (DOCKER_HOST, testcontainers'
// properties, Docker contexts, then well-known sockets). dockerode is loaded on first use: commands that
// never talk to Docker (galley list, init) start without it.
import os from "node:os";
import type Docker from "dockerode";
import { EnvironmentError } from "../../errors.ts";
import { configuredEndpoint, isLoopback, LOOKED_AT, socketCandidates, type DockerEndpoint } from "./host.ts";

export interface DockerHost {
  client: Docker;
  endpoint: DockerEndpoint;
  /** The engine's `docker info`. */
  info: { Name: string; ID: string; ServerVersion: string; CgroupVersion?: string; DockerRootDir?: string; OperatingSystem?: string; [key: string]: unknown };
  /**
   * The engine runs on this machine, in this machine's view (a unix socket or loopback address, and the
   * engine's host name is ours): its containers' processes, cgroups and volumes are visible here. A
   * socket mounted into a container, or forwarded from elsewhere, is not local.
   */
  local: boolean;
}

let host: Promise<DockerHost> | undefined;

async function connect(endpoint: DockerEndpoint): Promise<DockerHost> {
  const { default: Dockerode } = await import("dockerode");
  const client = new Dockerode(endpoint.options);
  await client.ping();
  const info = (await client.info()) as DockerHost["info"];
  const nearby = endpoint.options.socketPath !== undefined || isLoopback(endpoint.options.host);
  return { client, endpoint, info, local: nearby && info.Name === os.hostname() };
}

const START_ONE =
  "Start one: `sudo systemctl start docker`, or `sudo dockerd >/var/log/dockerd.log 2>&1 &` where systemd is absent " +
  "(`sudo npx galley setup` does either, and installs Docker if missing); or point DOCKER_HOST at a running one.";

/** The engine Galley uses, connected and checked. */
export function dockerHost(): Promise<DockerHost> {
  host ??= (async () => {
    const configured = configuredEndpoint();
    if (configured) {
      try {
        return await connect(configured);
      } catch (err) {
        throw new EnvironmentError(`no Docker daemon answers at ${configured.uri} (from ${configured.source}): ${(err as Error).message}.\n${START_ONE}`);
      }
    }
    const tried: string[] = [];
    for (const candidate of socketCandidates()) {
      try {
        return await connect(candidate);
      } catch (err) {
        tried.push(`${candidate.uri} (${candidate.source}): ${(err as Error).message}`);
      }
    }
    throw new EnvironmentError(
      `no Docker daemon answers${tried.length ? `: ${tried.join("; ")}` : ` (looked at ${LOOKED_AT}: none is set or exists)`}.\n${START_ONE}`,
    );
  })();
  return host;
}

/** Forgets the engine found (or not found): `galley setup` asks again after starting one. */
export function forgetDockerHost(): void {
  host = undefined;
}

export async function docker(): Promise<Docker> {
  return (await dockerHost()).client;
}

/**
 * Arguments that point a `docker` CLI child (galley login) at the engine Galley uses. The CLI reads
 * DOCKER_HOST and contexts itself; the other places discovery knows it does not.
 */
export function dockerCliHostArgs(): string[] {
  const configured = configuredEndpoint();
  if (configured) return configured.source === "DOCKER_HOST" || configured.source.includes("Docker context") ? [] : ["-H", configured.uri];
  const socket = socketCandidates()[0];
  return socket && socket.uri !== "unix:///var/run/docker.sock" ? ["-H", socket.uri] : [];
}

export const isNotFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;
