// What a matrix cell's pass proves: the nodes run what the cell asked for. A versions spec reports what
// each node runs with report(name, value), one fact per name, <kind>.<artifact>.<program>.<node>:
//   version.etcd.etcd.infra0     3.6.16        what a program says (`--version`, /version's etcdserver)
//   series.etcd.cluster.infra0   3.6.0         a version that names only a release series (etcd's cluster version)
//   module.fleet.fleetd.infra0   github.com/coreos/fleet v1.0.0 h1:…   the Go module compiled in
//   sha256.etcd.etcd.infra0      9f86…         of the running executable (/proc/<pid>/exe)
//   exe.etcd.etcd.infra0         /usr/local/bin/etcd
// The matrix compares them with what each artifact is (its version, its binaries' sha256) here, knowing
// no program by name: pure, so the comparison is unit-tested.

import { FACT_KINDS, parseFacts, type Fact, type FactKind } from "../contracts/facts.ts";

export { factName, parseFacts, type Fact, type FactKind } from "../contracts/facts.ts";

/** What a cell asked for, per artifact: its concrete version and the sha256 of each of its files. */
export interface Asked {
  version?: string;
  /** Where the version comes from, or why it is unknown. */
  versionFrom: string;
  /** file name → sha256 */
  sha256: Record<string, string>;
}

export const normalizeVersion = (v: string): string => v.trim().replace(/^v(?=\d)/, "").replace(/\+incompatible$/, "");
const series = (v: string) => normalizeVersion(v).split(".").slice(0, 2).join(".");
/** "github.com/coreos/fleet v1.0.0 h1:…" → "1.0.0"; undefined when the module line has no version. */
const moduleVersion = (line: string) => {
  const v = line.split(" ")[1];
  return v && /^v\d/.test(v) ? normalizeVersion(v) : undefined;
};
const list = (xs: string[]) => (xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
const short = (sha: string) => `${sha.slice(0, 12)}…`;

/**
 * Every way the running programs differ from what the cell asked for, as sentences naming both sides
 * ("asked etcd 3.6.16, infra1 runs 3.4.23 (etcd, server)"); empty when every node provably runs it.
 * Proof needs, per asked artifact and node, a version and the sha256 of a running executable: a version
 * alone cannot tell another build of that version (a box's own package, a rebuild) from the artifact's.
 */
export function compareRunning(asked: Record<string, Asked>, properties: Record<string, string>, nodes: string[]): string[] {
  const facts = parseFacts(properties);
  const problems: string[] = [];
  for (const [artifact, a] of Object.entries(asked)) {
    const mine = facts.filter((f) => f.artifact === artifact);
    if (!a.version) problems.push(`artifact ${artifact} has no known version: ${a.versionFrom}`);
    for (const kind of ["version", "sha256"] as const) {
      const what = kind === "version" ? `a running version of ${artifact}` : `the sha256 of a running ${artifact} executable`;
      const missing = nodes.filter((n) => !mine.some((f) => f.kind === kind && f.node === n));
      if (missing.length === nodes.length) problems.push(`no node reported ${what} (a versions spec reports ${kind}.${artifact}.<program>.<node>)`);
      else if (missing.length) problems.push(`${list(missing)} reported no ${what.replace(/^(a|the) /, "")}`);
    }
    // Group by what differs, so three nodes running the same wrong version make one sentence.
    const groups = new Map<string, { nodes: string[]; programs: string[] }>();
    const add = (key: string, f: Fact) => {
      const g = groups.get(key) ?? { nodes: [], programs: [] };
      if (!g.nodes.includes(f.node)) g.nodes.push(f.node);
      if (!g.programs.includes(f.program)) g.programs.push(f.program);
      groups.set(key, g);
    };
    const exe = (f: Fact) => properties[`exe.${artifact}.${f.program}.${f.node}`];
    const binary = (f: Fact) => `${f.program}${exe(f) ? ` (${exe(f)})` : ""}`;
    for (const f of mine) {
      if (a.version && f.kind === "version" && normalizeVersion(f.value) !== a.version) add(`asked:runs ${normalizeVersion(f.value)}`, f);
      if (a.version && f.kind === "series" && series(f.value) !== series(a.version)) add(`asked:reports the ${series(f.value)} series`, f);
      if (a.version && f.kind === "module") {
        const v = moduleVersion(f.value);
        if (v && v !== a.version) add(`asked:runs a build of ${f.value.split(" ").slice(0, 2).join(" ")}`, f);
      }
      if (f.kind === "sha256") {
        const want = a.sha256[f.program];
        if (!want) add(`binary:runs ${binary(f)}, which artifact ${artifact} does not provide`, f);
        else if (f.value !== want) add(`binary:runs ${binary(f)} with sha256 ${short(f.value)}, not artifact ${artifact}'s ${short(want)}`, f);
      }
    }
    const who = (g: { nodes: string[] }) => (g.nodes.length === nodes.length && nodes.length > 1 ? `all ${nodes.length} nodes` : list([...g.nodes].sort()));
    const sentence = (what: string, g: { nodes: string[] }) =>
      `${who(g)} ${g.nodes.length === 1 ? what : what.replace(/^(runs|reports)/, (v) => v.slice(0, -1))}`;
    const asked = [...groups].filter(([k]) => k.startsWith("asked:"));
    if (asked.length) {
      problems.push(`asked ${artifact} ${a.version}, ${asked.map(([k, g]) => `${sentence(k.slice(6), g)} (${g.programs.join(", ")})`).join("; ")}`);
    }
    for (const [k, g] of groups) if (k.startsWith("binary:")) problems.push(sentence(k.slice(7), g));
  }
  return problems;
}

/** One compact line of what ran, per artifact: "etcd 3.6.16 · fleet 1.0.0"; several versions as 3.6.16|3.4.23. */
export function runningSummary(properties: Record<string, string>, artifacts: string[]): string {
  const facts = parseFacts(properties).filter((f) => f.kind === "version");
  const names = [...new Set([...artifacts, ...facts.map((f) => f.artifact)])];
  return names
    .map((a) => {
      const seen = [...new Set(facts.filter((f) => f.artifact === a).map((f) => normalizeVersion(f.value)))];
      return `${a} ${seen.join("|") || "?"}`;
    })
    .join(" · ");
}
