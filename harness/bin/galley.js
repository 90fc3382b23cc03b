#!/usr/bin/env node
// The galley command. Installed from npm, Galley runs its compiled JavaScript (dist/, built by
// `npm run build` before packing). In its own repository it runs dist/ too when that build is at least
// as new as every source file (start-up in ~0.2 s instead of ~0.5 s compiling through tsx); otherwise,
// so an edit is never run stale, the TypeScript sources through tsx, and a checkout needs no build step.
import { existsSync, readdirSync, statSync } from "node:fs";

const sources = new URL("../src/", import.meta.url);
const built = new URL("../dist/.built", import.meta.url);

/** The newest modification time of any file under a folder. */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs);
  }
  return t;
}

if (!existsSync(sources)) {
  await import("../dist/cli/main.js");
} else if (process.env.GALLEY_FROM_SOURCES !== "1" && existsSync(built) && statSync(built).mtimeMs >= newest(sources)) {
  await import("../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("cli/main.ts", sources).href);
}
