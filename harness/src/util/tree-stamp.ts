// A cheap fingerprint of folders as they are on disk: every file's path, size, mode and modification
// time, without reading contents (an edit changes the time; the artifact cache's binaries weigh tens of
// megabytes and never change in place). Converge compares it with what it last uploaded to a node.
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export function treeStamp(trees: { label: string; dir: string }[]): string {
  const h = createHash("sha256");
  const walk = (dir: string, rel: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const abs = path.join(dir, entry);
      const s = statSync(abs);
      if (s.isDirectory()) walk(abs, `${rel}/${entry}`);
      else h.update(`${rel}/${entry}\0${s.size}\0${s.mode}\0${s.mtimeMs}\0`);
    }
  };
  for (const t of trees) {
    h.update(`tree ${t.label} ${path.resolve(t.dir)}\0`);
    walk(t.dir, "");
  }
  return h.digest("hex");
}
