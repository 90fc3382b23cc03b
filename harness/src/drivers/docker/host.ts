// Which Docker engine Galley talks to, found the way testcontainers finds it (and the docker CLI, for
// contexts), so a user's existing set-up just works. Explicit settings first; the first one set is used,
// and if it does not answer the error names it (a test must not quietly run on another engine):
//   1. tc.host in ~/.testcontainers.properties (Testcontainers Desktop / Cloud)
//   2. DOCKER_HOST (with DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)
//   3. docker.host in ~/.testcontainers.properties (with docker.tls.verify, docker.cert.path)
//   4. the Docker context: DOCKER_CONTEXT, else currentContext in $DOCKER_CONFIG/config.json
// Then well-known sockets, the first that exists and answers: /var/run/docker.sock, rootless Docker
// ($XDG_RUNTIME_DIR/docker.sock, ~/.docker/run, ~/.docker/desktop, /run/user/UID), Podman
// ($XDG_RUNTIME_DIR/podman/podman.sock, /run/podman/podman.sock).
// Why not testcontainers itself: its discovery knows no Docker contexts nor Podman sockets, its
// client set-up also resolves host IPs and looks for docker-compose, and it brings its own dockerode
// and a dozen packages; the order above is the same, in one small module.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { EnvironmentError } from "../../errors.ts";

export interface DockerEndpoint {
  /** unix:///var/run/docker.sock, tcp://127.0.0.1:2375, https://… */
  uri: string;
  /** Where the setting came from, for messages: "DOCKER_HOST", "Docker context ci (~/.docker/config.json)". */
  source: string;
  /** Set by the user: when it does not answer, that is an error, not a reason to try the next one. */
  explicit: boolean;
  options: Docker.DockerOptions;
}

/** What discovery reads, replaceable in tests. */
export interface HostView {
  env: NodeJS.ProcessEnv;
  home: string;
  uid: number;
  exists(file: string): boolean;
  /** A file's text, undefined when it cannot be read. */
  read(file: string): string | undefined;
}

export const realHost = (): HostView => ({
  env: process.env,
  home: os.homedir(),
  uid: process.getuid?.() ?? 0,
  exists: existsSync,
  read: (f) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return undefined;
    }
  },
});

/** The few keys of a Java .properties file testcontainers reads (key=value or key: value, # comments). */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

interface Tls {
  verify: boolean;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

/** dockerode options for a Docker host URI; throws naming the source for what Galley cannot use. */
export function endpointFromUri(uri: string, source: string, explicit: boolean, tls?: Tls): DockerEndpoint {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new EnvironmentError(`${source}: ${uri} is not a Docker host address (expected unix:///path/docker.sock or tcp://HOST:PORT)`);
  }
  const base = { uri, source, explicit };
  switch (url.protocol) {
    case "unix:":
      return { ...base, options: { socketPath: decodeURIComponent(url.pathname) } };
    case "tcp:":
    case "http:":
    case "https:": {
      const https = url.protocol === "https:" || (url.protocol === "tcp:" && Boolean(tls?.verify));
      const port = url.port || (https ? "2376" : "2375");
      const options: Docker.DockerOptions = { host: url.hostname.replace(/^\[|\]$/g, ""), port, protocol: https ? "https" : "http" };
      if (https && tls) Object.assign(options, { ca: tls.ca, cert: tls.cert, key: tls.key });
      return { ...base, options };
    }
    case "ssh:":
      throw new EnvironmentError(
        `${source}: ${uri}: Galley does not speak to Docker over ssh:// itself; forward the remote socket and point DOCKER_HOST at it: ` +
          `\`ssh -NL /tmp/remote-docker.sock:/var/run/docker.sock ${url.host}\` and DOCKER_HOST=unix:///tmp/remote-docker.sock`,
      );
    default:
      throw new EnvironmentError(`${source}: ${uri}: unsupported Docker host scheme ${url.protocol} (use unix://, tcp://, http:// or https://)`);
  }
}

function tlsFiles(h: HostView, dir: string | undefined, verify: boolean): Tls {
  if (!verify || !dir) return { verify };
  const read = (f: string) => h.read(path.join(dir, f));
  return { verify, ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") };
}

/** The Docker CLI's configuration folder. */
const dockerConfigDir = (h: HostView) => h.env.DOCKER_CONFIG || path.join(h.home, ".docker");

/** The endpoint of a named Docker context, as `docker context` stores it (meta/<sha256(name)>/meta.json). */
function contextEndpoint(h: HostView, name: string, source: string): DockerEndpoint {
  const id = createHash("sha256").update(name).digest("hex");
  const dir = path.join(dockerConfigDir(h), "contexts");
  const metaFile = path.join(dir, "meta", id, "meta.json");
  const text = h.read(metaFile);
  if (text === undefined) throw new EnvironmentError(`${source}: Docker context ${name} does not exist (no ${metaFile}); \`docker context ls\` lists them`);
  let meta: { Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } } };
  try {
    meta = JSON.parse(text);
  } catch (err) {
    throw new EnvironmentError(`${metaFile}: ${(err as Error).message}`);
  }
  const host = meta.Endpoints?.docker?.Host;
  if (!host) throw new EnvironmentError(`${metaFile}: Docker context ${name} names no docker endpoint (Endpoints.docker.Host)`);
  const tlsDir = path.join(dir, "tls", id, "docker");
  const tls = h.exists(tlsDir) ? { ...tlsFiles(h, tlsDir, true), verify: !meta.Endpoints?.docker?.SkipTLSVerify } : undefined;
  return endpointFromUri(host, `${source}: Docker context ${name}`, true, tls);
}

/** The endpoint the user configured, if any (explicit settings, in the order above). */
export function configuredEndpoint(h: HostView = realHost()): DockerEndpoint | undefined {
  const propsFile = path.join(h.home, ".testcontainers.properties");
  const propsText = h.read(propsFile);
  const props = propsText === undefined ? {} : parseProperties(propsText);
  const shortProps = "~/.testcontainers.properties";
  if (props["tc.host"]) return endpointFromUri(props["tc.host"], `tc.host in ${shortProps}`, true);
  const env = h.env;
  if (env.DOCKER_HOST) {
    const verify = Boolean(env.DOCKER_TLS_VERIFY) && env.DOCKER_TLS_VERIFY !== "0";
    return endpointFromUri(env.DOCKER_HOST, "DOCKER_HOST", true, tlsFiles(h, env.DOCKER_CERT_PATH || dockerConfigDir(h), verify));
  }
  if (props["docker.host"]) {
    const verify = props["docker.tls.verify"] === "1" || props["docker.tls.verify"] === "true";
    return endpointFromUri(props["docker.host"], `docker.host in ${shortProps}`, true, tlsFiles(h, props["docker.cert.path"], verify));
  }
  if (env.DOCKER_CONTEXT) return env.DOCKER_CONTEXT === "default" ? undefined : contextEndpoint(h, env.DOCKER_CONTEXT, "DOCKER_CONTEXT");
  const configFile = path.join(dockerConfigDir(h), "config.json");
  const configText = h.read(configFile);
  if (configText !== undefined) {
    let current: string | undefined;
    try {
      current = (JSON.parse(configText) as { currentContext?: string }).currentContext;
    } catch {
      /* the docker CLI would complain; an unreadable config names no context */
    }
    if (current && current !== "default") return contextEndpoint(h, current, `currentContext in ${configFile.replace(h.home, "~")}`);
  }
  return undefined;
}

/** Well-known sockets that exist, in the order they are tried. */
export function socketCandidates(h: HostView = realHost()): DockerEndpoint[] {
  const runtime = h.env.XDG_RUNTIME_DIR;
  const userRun = `/run/user/${h.uid}`;
  const candidates: [string, string][] = [
    ["/var/run/docker.sock", "the default socket"],
    ...(runtime ? [[path.join(runtime, "docker.sock"), "rootless Docker ($XDG_RUNTIME_DIR)"] as [string, string]] : []),
    [path.join(h.home, ".docker", "run", "docker.sock"), "Docker Desktop (~/.docker/run)"],
    [path.join(h.home, ".docker", "desktop", "docker.sock"), "Docker Desktop (~/.docker/desktop)"],
    [path.join(userRun, "docker.sock"), "rootless Docker (/run/user)"],
    ...(runtime ? [[path.join(runtime, "podman", "podman.sock"), "Podman ($XDG_RUNTIME_DIR)"] as [string, string]] : []),
    [path.join(userRun, "podman", "podman.sock"), "Podman (/run/user)"],
    ["/run/podman/podman.sock", "Podman (rootful)"],
  ];
  const seen = new Set<string>();
  return candidates
    .filter(([file]) => !seen.has(file) && seen.add(file) && h.exists(file))
    .map(([file, source]) => endpointFromUri(`unix://${file}`, source, false));
}

/** Every place discovery looks, for the message when nothing answers. */
export const LOOKED_AT =
  "DOCKER_HOST, ~/.testcontainers.properties (tc.host, docker.host), the Docker context (DOCKER_CONTEXT, ~/.docker/config.json), " +
  "/var/run/docker.sock, rootless Docker and Podman sockets";

/** Whether an address is this machine's loopback (a forwarded local daemon is still local). */
export const isLoopback = (host: string | undefined): boolean =>
  host === "localhost" || host === "::1" || /^127\./.test(host ?? "");
