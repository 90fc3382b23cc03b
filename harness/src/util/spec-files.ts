// A suite is spec files or folders of them: the files mocha loads, in a stable order.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { UserError } from "../errors.ts";

const SPEC = /\.(spec|test)\.(ts|mts|js|mjs)$/;

export function specFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (!existsSync(p)) throw new UserError(`verifier suite not found: ${p}`);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(path.join(p, e));
    else if (SPEC.test(p)) out.push(p);
  };
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isFile()) out.push(p);
    else walk(p);
  }
  if (!out.length) throw new UserError(`no *.spec.ts files in ${paths.join(", ")}`);
  return out;
}
