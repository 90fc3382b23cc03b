// fleetctl output (0.8.3 and 1.0.0), parsed. Tab-separated with --no-legend.
import { AssertionFailed } from "galley/verifier";

export interface Machine {
  id: string;
  ip: string;
  metadata: Record<string, string>;
}

/** `fleetctl list-machines --no-legend --full`: `<id>\t<ip>\t<k=v,k=v | ->` */
export function parseMachines(text: string): Machine[] {
  return rows(text, 3, "list-machines").map(([id, ip, meta]) => ({
    id: id!,
    ip: ip!,
    metadata: parseMetadata(meta),
  }));
}

export interface UnitRow {
  unit: string;
  machineId: string;
  ip: string;
  active: string;
  sub: string;
}

/** `fleetctl list-units --no-legend [--full]`: `<unit>\t<id[...]>/<ip>\t<active>\t<sub>` */
export function parseUnits(text: string): UnitRow[] {
  return rows(text, 4, "list-units").map(([unit, machine, active, sub]) => {
    const [id, ip] = machine!.split("/");
    return { unit: unit!, machineId: (id ?? "").replace(/\.\.\.$/, ""), ip: ip ?? "", active: active!, sub: sub! };
  });
}

export interface JournalLine {
  host: string;
  ident: string;
  message: string;
}

/** journalctl's short format: `Nov 04 11:41:37 infra1 docker[4639]: Hello World`. Other lines are skipped. */
export function parseJournal(text: string): JournalLine[] {
  return text.split("\n").flatMap((l) => {
    const m = /^\w{3} [ \d]\d \d\d:\d\d:\d\d (\S+) ([^:[\s]+)(?:\[\d+\])?: (.*)$/.exec(l.trim());
    return m ? [{ host: m[1]!, ident: m[2]!, message: m[3]! }] : [];
  });
}

export interface TimedJournalLine extends JournalLine {
  /** Seconds since the epoch. */
  at: number;
}

/** journalctl's short-unix format: `1732615297.123456 infra1 docker[4639]: Hello World`. Other lines are skipped. */
export function parseJournalUnix(text: string): TimedJournalLine[] {
  return text.split("\n").flatMap((l) => {
    const m = /^(\d+(?:\.\d+)?) (\S+) ([^:[\s]+)(?:\[\d+\])?: (.*)$/.exec(l.trim());
    return m ? [{ at: Number(m[1]), host: m[2]!, ident: m[3]!, message: m[4]! }] : [];
  });
}

/** A systemd Environment= list as `systemctl show -p Environment --value` prints it. */
export function parseEnvironment(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"(.*)"$/, "$1")]));
}

/** fleet metadata as configured (`region=eu-central-1,az=eu-central-1a`). */
export function parseMetadata(text: string | undefined): Record<string, string> {
  if (!text || text === "-") return {};
  return Object.fromEntries(text.split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

function rows(text: string, columns: number, what: string): string[][] {
  return text.split("\n").filter((l) => l.trim()).map((l) => {
    const f = l.trim().split(/\t+|\s{2,}/);
    if (f.length < columns) throw new AssertionFailed(`unrecognised \`fleetctl ${what}\` line: ${l}`);
    return f;
  });
}

/** fleetctl's flag for full machine ids: `--full` in 1.0, `-l` in 0.8.3. */
export function fullFlag(version: string): string {
  return /^0\./.test(version) ? "-l" : "--full";
}

/** `fleetctl --version` → `1.0.0`. */
export function parseVersion(text: string): string {
  const m = /version\s+(\S+)/.exec(text);
  if (!m) throw new AssertionFailed(`cannot read fleetctl's version from: ${text.trim()}`);
  return m[1]!;
}

/** A shell snippet that runs fleetctl as the article does: as core, with the shared key in an ssh-agent. */
export function withAgent(fleetctlArgs: string): string {
  return [
    `eval "$(ssh-agent -s)" >/dev/null`,
    `trap 'ssh-agent -k >/dev/null' EXIT`,
    `ssh-add -q ~/.ssh/id_rsa`,
    `fleetctl --strict-host-key-checking=false ${fleetctlArgs}`,
  ].join("\n");
}
