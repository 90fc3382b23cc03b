// What a versions spec uses (`import { probeUnit, … } from "galley/matrix"`): facts about a program as
// it runs on a node. A daemon is probed through its running process (/proc/<MainPID>/exe: the image the
// kernel runs, even when the file on disk was replaced since); a client through the file its command
// name resolves to. One command per program: path, sha256, what `--version` says, Go build information.
import { AssertionFailed } from "../errors.ts";
import type { Node } from "./node.ts";
import { buildInfoScript, moduleLine, parseBuildInfo, type BuildInfo } from "../util/buildinfo.ts";

export { factName, type FactKind } from "../contracts/facts.ts";
export { moduleLine, type BuildInfo } from "../util/buildinfo.ts";

export interface Probe {
  /** The executable's path ("/usr/local/bin/etcd"; " (deleted)" when replaced on disk since it started). */
  exe: string;
  sha256: string;
  /** What the version command printed (first lines). */
  versionOutput: string;
  /** The version in that output ("3.6.16"), if any. */
  version?: string;
  buildInfo?: BuildInfo;
  /** The Go module compiled in, as one line: "github.com/coreos/fleet v1.0.0 h1:…". */
  module: string;
}

/** The first version number a program prints: "etcd Version: 3.4.23", "fleetd version 1.0.0", "etcdctl version: 3.6.16". */
export function versionIn(text: string): string | undefined {
  return /\bversion:?\s+v?(\d+\.\d+\.\d+[^\s,]*)/i.exec(text)?.[1];
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The daemon a systemd unit runs now. `versionArgs` are passed to that very image (/proc/<pid>/exe). */
export function probeUnit(node: Node, unit: string, versionArgs = "--version"): Promise<Probe> {
  return probe(node, `unit ${unit}`, `
u=${q(unit)}
pid=$(systemctl show -p MainPID --value "$u")
if [ -z "$pid" ] || [ "$pid" = 0 ]; then
  echo "$u has no running process ($(systemctl show -p ActiveState --value "$u")/$(systemctl show -p SubState --value "$u"))" >&2
  exit 3
fi
exe=/proc/$pid/exe
path=$(readlink "$exe")
sum=$(sha256sum < "$exe" | cut -d' ' -f1)
ver=$({ "$exe" ${versionArgs} 2>&1 | head -n 5; } || true)
bi=$(buildinfo "$exe")
if [ "$(systemctl show -p MainPID --value "$u")" != "$pid" ]; then echo "$u restarted while it was probed" >&2; exit 4; fi
`);
}

/** The program a command name resolves to in root's login shell; `env` is put before its version command. */
export function probeCommand(node: Node, command: string, versionArgs = "--version", env = ""): Promise<Probe> {
  return probe(node, `command ${command}`, `
c=${q(command)}
found=$(command -v "$c") || { echo "$c is not in PATH ($PATH)" >&2; exit 3; }
path=$(readlink -f "$found")
sum=$(sha256sum < "$path" | cut -d' ' -f1)
ver=$({ ${env} "$path" ${versionArgs} 2>&1 | head -n 5; } || true)
bi=$(buildinfo "$path")
`);
}

async function probe(node: Node, what: string, body: string): Promise<Probe> {
  const out = await node.succeed(`${buildInfoScript}\n${body}\nprintf '%s\\n' "$path" "$sum" "$(printf '%s' "$ver" | base64 -w0)" "$bi"`);
  const [exe, sha256, version64, buildinfo64] = out.split("\n");
  if (!exe || !/^[0-9a-f]{64}$/.test(sha256 ?? "")) throw new AssertionFailed(`probing ${what} on ${node.name} printed no path and sha256:\n${out.slice(0, 400)}`);
  const versionOutput = Buffer.from(version64 ?? "", "base64").toString("utf8").trim();
  const buildInfo = buildinfo64 ? parseBuildInfo(Buffer.from(buildinfo64, "base64")) : undefined;
  return { exe, sha256: sha256!, versionOutput, version: versionIn(versionOutput), buildInfo, module: moduleLine(buildInfo) };
}
