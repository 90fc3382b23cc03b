#!/usr/bin/env node
// The galley command. Installed from npm, Galley runs its compiled JavaScript (dist/, built by
// `npm run build` before packing); in its own repository, where the TypeScript sources are, it runs
// them through tsx, so a checkout needs no build step.
import { existsSync } from "node:fs";

const sources = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(sources.href);
} else {
  await import("../dist/cli/main.js");
}
