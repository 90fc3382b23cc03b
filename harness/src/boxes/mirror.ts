// The Debian mirror a box is built from when its box.yml names none: the one this machine's apt
// sources use, so a user's own mirror is respected. Shared by every driver that builds boxes.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** An apt source URI as debootstrap can use it: http(s) as is; apt's `mirror+file:` list → its first mirror. */
export function usableMirror(uri: string): string | undefined {
  if (/^https?:\/\//.test(uri)) return uri;
  const list = /^mirror\+file:\/*(\/.*)$/.exec(uri)?.[1];
  if (!list) return undefined;
  try {
    return /^https?:\/\/\S+/m.exec(readFileSync(list, "utf8"))?.[0];
  } catch {
    return undefined;
  }
}

/** The Debian mirror this machine already uses, so a user's own mirror is respected. */
export function hostDebianMirror(): string | undefined {
  const files = ["/etc/apt/sources.list"];
  try {
    for (const f of readdirSync("/etc/apt/sources.list.d").sort()) files.push(path.join("/etc/apt/sources.list.d", f));
  } catch {
    /* no sources.list.d */
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? "";
        const usable = uri && usableMirror(uri);
        if (usable && /^Types:.*\bdeb\b/m.test(stanza) && !/security/.test(uri + suites) && /debian/.test(uri)) return usable;
      }
    } else {
      for (const l of text.split("\n")) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(l.trim());
        const usable = m && usableMirror(m[1]!);
        if (usable && !/security/.test(m[1]! + m[2]) && /debian/.test(m[1]!)) return usable;
      }
    }
  }
  return undefined;
}
