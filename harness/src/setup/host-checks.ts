// The prerequisites on the machine Galley runs on, besides the Docker engine (drivers/docker/doctor.ts):
// Node, root, the box build tools, the recipes' tools and Go, disk space under the cache, ssh, and the
// tools network faults use on the host.
import { existsSync } from "node:fs";
import { MIN_GO, goCandidates, goForRecipes, goProxies, PINNED_TOOLCHAIN, showVersion } from "../toolchains/go.ts";
import { cacheDir } from "../util/cache.ts";
import { onPath } from "../util/which.ts";
import { diskCheck, type Check } from "../util/check.ts";

export const sudo = () => (process.getuid?.() === 0 ? "" : "sudo ");

function tool(name: string, cmd: string, pkg: string, why: string): Check {
  const at = onPath(cmd);
  return at
    ? { name, status: "ok", detail: at }
    : { name, status: "missing", detail: `not installed (${why})`, fix: `${sudo()}apt-get install -y ${pkg}`, apt: [pkg] };
}

export function hostChecks(): Check[] {
  const checks: Check[] = [];
  const [major, minor] = process.versions.node.split(".").map(Number);
  checks.push(major! > 20 || (major === 20 && minor! >= 6)
    ? { name: "node", status: "ok", detail: `Node.js ${process.versions.node}` }
    : { name: "node", status: "missing", detail: `Node.js ${process.versions.node}; Galley needs 20.6 or newer`, fix: "install Node.js 20.6 or newer (nodejs.org, or your distribution's nodejs)" });
  const root = process.getuid?.() === 0;
  checks.push(root
    ? { name: "root", status: "ok", detail: "running as root (box builds run debootstrap and chroot)" }
    : { name: "root", status: "warn", detail: "not root: building a box (debootstrap) needs root; running cached boxes does not", fix: "run the first `galley test` with sudo, or as root" });
  checks.push(tool("debootstrap", "debootstrap", "debootstrap", "builds the base box debian-12"));
  const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  checks.push(existsSync(keyring)
    ? { name: "debian keyring", status: "ok", detail: keyring }
    : { name: "debian keyring", status: "missing", detail: `no ${keyring} (debootstrap checks Debian's release signatures with it)`, fix: `${sudo()}apt-get install -y debian-archive-keyring`, apt: ["debian-archive-keyring"] });
  checks.push(tool("curl", "curl", "curl", "the etcd-debian recipe downloads with it"));
  checks.push(tool("xz", "xz", "xz-utils", "the etcd-debian recipe unpacks Packages.xz"));
  checks.push(tool("gpgv", "gpgv", "gpgv", "the etcd-debian recipe checks InRelease signatures"));
  checks.push(existsSync("/etc/ssl/certs/ca-certificates.crt")
    ? { name: "ca certificates", status: "ok", detail: "/etc/ssl/certs/ca-certificates.crt" }
    : { name: "ca certificates", status: "missing", detail: "no /etc/ssl/certs/ca-certificates.crt (Go and curl verify HTTPS with it)", fix: `${sudo()}apt-get install -y ca-certificates`, apt: ["ca-certificates"] });
  checks.push(goCheck());
  checks.push(diskCheck("cache disk", cacheDir(), "free space there, or set GALLEY_CACHE to a folder on a larger disk"));
  // Wanted, not required: without them Galley still runs, slower or without one feature (setup installs them).
  const soft = (c: Check): Check => (c.status === "ok" ? c : { ...c, status: "warn" });
  checks.push(soft(tool("ssh client", "ssh", "openssh-client", "galley login over the ssh transport")));
  checks.push(soft(tool("mmdebstrap", "mmdebstrap", "mmdebstrap", "builds a box's system layer in about 0.6× debootstrap's time; debootstrap is used without it")));
  checks.push(soft(tool("nsenter", "nsenter", "util-linux", "network faults act inside each node's network namespace")));
  checks.push(soft(tool("iptables", "iptables", "iptables", "network faults: partitions and drops")));
  return checks;
}

/** A Go new enough for the recipes; else what setup will do (the pinned toolchain through the proxy). */
export function goCheck(): Check {
  const chosen = goForRecipes();
  const all = goCandidates();
  const min = showVersion(MIN_GO);
  if (chosen) return { name: "go", status: "ok", detail: `${chosen.version} (${chosen.go}, from ${chosen.from}); the recipes use it` };
  const seen = all.length ? `found ${all.map((g) => `${g.version} (${g.from})`).join(", ")}, too old` : "no Go on this machine";
  const { proxies, from } = goProxies();
  const how = proxies.length
    ? `\`${sudo()}npx galley setup\` fetches ${PINNED_TOOLCHAIN.version} from the module proxy (${from}) into ${cacheDir("toolchains")}`
    : `set GOPROXY to your Go module proxy, or install any Go (\`${sudo()}apt-get install -y golang-go\`), then \`npx galley setup\` fetches ${PINNED_TOOLCHAIN.version} through its proxy`;
  return {
    name: "go",
    status: "missing",
    detail: `${seen}: the fleet and etcd recipes need Go ${min} or newer`,
    fix: how,
    action: "go-toolchain",
    // Without any Go and no GOPROXY, the distribution's Go tells which module proxy the machine uses.
    apt: !all.length && !proxies.length ? ["golang-go"] : undefined,
  };
}
