// Which credentials `docker pull` would use for an image, read the way the docker CLI reads them, so a
// box `from:` a private registry pulls with the user's own `docker login`: ~/.docker/config.json (or
// $DOCKER_CONFIG/config.json), its per-registry credential helpers, its credential store, or the
// base64 `auth` that `docker login` writes. No credentials is not an error: public images need none.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UserError } from "../../errors.ts";

/** What the Engine API's X-Registry-Auth carries (dockerode's `authconfig`). */
export interface AuthConfig {
  username?: string;
  password?: string;
  identitytoken?: string;
  serveraddress: string;
}

/** Where the credentials came from, for messages (never the secret itself). */
export interface FoundAuth {
  auth: AuthConfig;
  source: string;
}

// Docker Hub's key in config.json, whatever the image reference says: a lookup key (and Hub's aliases
// below, names an image reference may use); Galley never contacts it, the Docker daemon pulls.
const DOCKER_HUB = "https://index.docker.io/v1/";

/**
 * The registry an image reference names: its first path component when that looks like a host
 * (has a dot or a port, or is localhost), else Docker Hub.
 */
export function registryOf(ref: string): string {
  const slash = ref.indexOf("/");
  if (slash < 0) return DOCKER_HUB;
  const first = ref.slice(0, slash);
  if (first === "localhost" || first.includes(".") || first.includes(":")) {
    return ["docker.io", "index.docker.io", "registry-1.docker.io"].includes(first) ? DOCKER_HUB : first;
  }
  return DOCKER_HUB;
}

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(os.homedir(), ".docker"), "config.json");
}

interface DockerConfigJson {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Keys config.json may use for a registry: `host`, `https://host`, `http://host`, and Docker Hub's aliases. */
function keysFor(registry: string): string[] {
  if (registry === DOCKER_HUB) return [DOCKER_HUB, "index.docker.io", "docker.io", "registry-1.docker.io", "https://index.docker.io/v1"];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/**
 * The credentials for `ref`'s registry, or undefined when config.json has none (or does not exist).
 * A broken config.json or a credential helper that fails is an error naming the file and key.
 */
export function findRegistryAuth(ref: string, env: NodeJS.ProcessEnv = process.env, runHelper = credentialHelper): FoundAuth | undefined {
  const registry = registryOf(ref);
  const file = dockerConfigFile(env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let config: DockerConfigJson;
  try {
    config = JSON.parse(text) as DockerConfigJson;
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${(err as Error).message}); it holds the Docker credentials Galley pulls ${ref} with`);
  }
  const keys = keysFor(registry);
  const helperKey = keys.find((k) => config.credHelpers?.[k]);
  const helper = helperKey ? config.credHelpers![helperKey] : config.credsStore;
  if (helper) {
    const got = runHelper(helper, helperKey ?? registry, file);
    if (got) {
      const auth: AuthConfig = got.Username === "<token>"
        ? { identitytoken: got.Secret, serveraddress: registry }
        : { username: got.Username, password: got.Secret, serveraddress: registry };
      return { auth, source: `${file}: ${helperKey ? `credHelpers.${helperKey}` : "credsStore"} (docker-credential-${helper})` };
    }
    // A credential store that knows nothing of this registry: fall back to plain auths, as docker does.
  }
  const key = keys.find((k) => config.auths?.[k]);
  if (!key) return undefined;
  const entry = config.auths![key]!;
  const where = `${file}: auths.${key}`;
  if (entry.identitytoken) return { auth: { identitytoken: entry.identitytoken, serveraddress: registry }, source: where };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new UserError(`${where}.auth: expected base64 of user:password (as docker login writes it)`);
    return { auth: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry }, source: where };
  }
  if (entry.username && entry.password) return { auth: { username: entry.username, password: entry.password, serveraddress: registry }, source: where };
  return undefined;
}

/** `docker-credential-NAME get`: {Username, Secret} for a server, or undefined when it has none. */
export function credentialHelper(name: string, server: string, configFile: string): { Username: string; Secret: string } | undefined {
  const program = `docker-credential-${name}`;
  const r = spawnSync(program, ["get"], { input: server, encoding: "utf8", timeout: 30_000 });
  if (r.error) {
    throw new UserError(`${configFile} names the credential helper ${name} for ${server}, but ${program} cannot run: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? "it is not installed" : r.error.message}`);
  }
  const out = `${r.stdout}${r.stderr}`.trim();
  // Helpers say "credentials not found in native keychain" (exit 1) for a server they do not know.
  if (r.status !== 0) {
    if (/not found/i.test(out)) return undefined;
    throw new UserError(`${program} get ${server} failed (exit ${r.status}): ${out.split("\n").slice(-3).join(" ")}`);
  }
  try {
    const parsed = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    return parsed.Secret ? { Username: parsed.Username ?? "", Secret: parsed.Secret } : undefined;
  } catch {
    throw new UserError(`${program} get ${server} printed no JSON: ${out.slice(0, 200)}`);
  }
}
