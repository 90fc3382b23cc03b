// Go's build information (what `go version -m` prints), parsed from a binary's bytes. Parsed here, in
// TypeScript, so the matrix can read it from the RUNNING binary where it runs (/proc/<pid>/exe on a
// node: the node sends the few KB that hold it, see buildInfoScript) without copying 15-30 MB binaries
// out of every node or needing Go on the host. The format is the one debug/buildinfo reads:
// - a header "\xff Go buildinf:" + pointer size + flags; since Go 1.18 (flag 2) the Go version and the
//   module information follow inline, each as a uvarint length and its bytes;
// - the module information (every Go version) is text framed by two fixed 16-byte sentinels, so older
//   binaries (Go < 1.18, pointers instead of inline strings) are read by finding the sentinels.

export interface GoModule {
  path: string;
  /** "v1.0.0", a pseudo-version, or "(devel)"; undefined when the binary was built outside module mode. */
  version?: string;
  /** "h1:…" as in go.sum. */
  sum?: string;
  /** `=> replacement` of a replaced module. */
  replacedBy?: { path: string; version?: string; sum?: string };
}

export interface BuildInfo {
  /** "go1.26.8"; only from the inline format (Go ≥ 1.18). */
  goVersion?: string;
  /** The main package's import path. */
  path?: string;
  /** The module the main package belongs to. */
  main?: GoModule;
  deps: GoModule[];
  settings: Record<string, string>;
}

const MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const INFO_START = Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex");
const INFO_END = Buffer.from("f932433186182072008242104116d8f2", "hex");
const FLAG_INLINE = 0x2;

function uvarint(buf: Buffer, at: number): [value: number, next: number] | undefined {
  let value = 0;
  for (let shift = 0, i = at; i < buf.length && shift < 35; i++, shift += 7) {
    value += (buf[i]! & 0x7f) * 2 ** shift;
    if (buf[i]! < 0x80) return [value, i + 1];
  }
  return undefined;
}

function inlineString(buf: Buffer, at: number): [text: Buffer, next: number] | undefined {
  const v = uvarint(buf, at);
  if (!v || v[1] + v[0] > buf.length) return undefined;
  return [buf.subarray(v[1], v[1] + v[0]), v[1] + v[0]];
}

/** The module information text (between the sentinels), or undefined when the buffer holds none. */
function modInfoText(buf: Buffer, from = 0): string | undefined {
  const start = buf.indexOf(INFO_START, from);
  if (start < 0) return undefined;
  const end = buf.indexOf(INFO_END, start + INFO_START.length);
  if (end < 0) return undefined;
  return buf.subarray(start + INFO_START.length, end).toString("utf8");
}

/** Parses Go build information out of a buffer that holds it (a whole binary, or the node's excerpt). */
export function parseBuildInfo(buf: Buffer): BuildInfo | undefined {
  const header = buf.indexOf(MAGIC);
  let goVersion: string | undefined;
  let text: string | undefined;
  if (header >= 0 && (buf[header + 15]! & FLAG_INLINE)) {
    const vers = inlineString(buf, header + 32);
    if (vers) {
      goVersion = vers[0].toString("utf8") || undefined;
      const mod = inlineString(buf, vers[1]);
      if (mod) text = modInfoText(mod[0]) ?? "";
    }
  }
  text ??= modInfoText(buf);
  if (header < 0 && text === undefined) return undefined;
  return { goVersion, ...parseModInfo(text ?? "") };
}

const toModule = (fields: string[]): GoModule => ({ path: fields[0]!, version: fields[1] || undefined, sum: fields[2] || undefined });

/** The text format of runtime/debug.BuildInfo: path, mod, dep, => and build lines, tab-separated. */
export function parseModInfo(text: string): Omit<BuildInfo, "goVersion"> {
  const info: Omit<BuildInfo, "goVersion"> = { deps: [], settings: {} };
  let last: GoModule | undefined;
  for (const line of text.split("\n")) {
    const [kind, ...fields] = line.split("\t");
    if (kind === "path") info.path = fields[0];
    else if (kind === "mod") last = info.main = toModule(fields);
    else if (kind === "dep") info.deps.push((last = toModule(fields)));
    else if (kind === "=>" && last) last.replacedBy = toModule(fields);
    else if (kind === "build" && fields[0]) {
      const eq = fields[0].indexOf("=");
      info.settings[fields[0].slice(0, eq)] = fields[0].slice(eq + 1);
    }
  }
  return info;
}

/** The module a binary was built from (main module, else the dep providing its main package) as one line. */
export function moduleLine(info: BuildInfo | undefined): string {
  if (!info) return "(no Go build information)";
  if (!info.path && !info.main) return "(no module information: built outside module mode)";
  const m = info.main;
  if (m?.version && m.version !== "(devel)") return [m.path, m.version, m.sum].filter(Boolean).join(" ");
  // A wrapper module (etcd-go builds `galley.invalid/etcd-wrapper/etcd` around go.etcd.io/etcd/server/v3):
  // the module that really holds the main package is the dep whose path prefixes it.
  const dep = info.path ? info.deps.filter((d) => info.path === d.path || info.path!.startsWith(d.path + "/")).sort((a, b) => b.path.length - a.path.length)[0] : undefined;
  if (dep) return [dep.path, dep.version, dep.sum].filter(Boolean).join(" ");
  return `${info.path ?? m?.path ?? "?"} (no module version: built ${m ? "as (devel)" : "outside module mode"})`;
}

/**
 * A bash function for a node: `buildinfo FILE` prints, base64-encoded, the bytes of FILE that hold its
 * Go build information (the header and what follows it; for Go < 1.18 also the framed module text),
 * nothing when FILE has none. Needs only grep -P, tail, head, od and base64.
 */
export const buildInfoScript = String.raw`
buildinfo() {
  local f=$1 off info flags
  off=$(LC_ALL=C grep -obUaP -m1 '\xff Go buildinf:' "$f" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -n "$off" ] || return 0
  flags=$(tail -c +$((off + 16)) "$f" | head -c 1 | od -An -tu1 | tr -d ' ') || true
  {
    { tail -c +$((off + 1)) "$f" | head -c 65536; } || true
    if (( (flags & 2) == 0 )); then
      info=$(LC_ALL=C grep -obUaP -m1 '\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6' "$f" 2>/dev/null | head -n1 | cut -d: -f1) || true
      [ -z "$info" ] || { tail -c +$((info + 1)) "$f" | head -c 65536; } || true
    fi
  } | base64 -w0
}
`;
