// galley init: a starter project in an empty folder (galley.yml, a shell provisioning that uses
// Galley's helper library, a TypeScript spec), copied from harness/templates/starter. It never
// overwrites: when any of its files exists, it writes nothing and says which.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

export const STARTER = fileURLToPath(new URL("../../../templates/starter", import.meta.url));

/** Every file of a folder, relative to it, sorted. */
function filesIn(dir: string, under = ""): string[] {
  return readdirSync(path.join(dir, under), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesIn(dir, path.join(under, e.name)) : [path.join(under, e.name)]))
    .sort();
}

/** Copies the starter project into `target`; returns the files written (relative). */
export function writeStarter(target: string): string[] {
  const files = filesIn(STARTER);
  const existing = files.filter((f) => existsSync(path.join(target, f)));
  if (existing.length) {
    throw new UserError(`galley init writes nothing: ${existing.map((f) => path.join(target, f)).join(", ")} already exist${existing.length === 1 ? "s" : ""} (it never overwrites; move ${existing.length === 1 ? "it" : "them"} away or init another folder)`);
  }
  for (const f of files) {
    mkdirSync(path.dirname(path.join(target, f)), { recursive: true });
    copyFileSync(path.join(STARTER, f), path.join(target, f));
    chmodSync(path.join(target, f), statSync(path.join(STARTER, f)).mode & 0o777);
  }
  return files;
}

export function register(program: Command, _ctx: CliContext): void {
  program
    .command("init [folder]")
    .description("write a starter project (galley.yml, a provisioning, a spec) into a folder (default: the current one); never overwrites")
    .action((folder: string | undefined) => {
      const target = path.resolve(folder ?? ".");
      const written = writeStarter(target);
      const rel = (f: string) => path.relative(process.cwd(), path.join(target, f)) || f;
      say(`wrote ${written.length} files:`);
      for (const f of written) say(`  ${rel(f)}`);
      say([
        "",
        "next:",
        `  npx galley test${folder ? ` --config ${rel("galley.yml")}` : ""}     # create, converge (twice), verify, destroy hello-debian-12`,
        "  add .galley/ to your .gitignore (state, logs and SSH keys of your instances)",
      ].join("\n"));
    });
}
