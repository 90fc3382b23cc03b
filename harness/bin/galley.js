#!/usr/bin/env node
// Galley runs from its TypeScript sources: tsx registers the loader, so `npm ci` is all the build there is.
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");
