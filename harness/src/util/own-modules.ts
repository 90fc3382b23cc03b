// Galley runs from its TypeScript sources in its own repository (through tsx) and from compiled
// JavaScript once installed from npm. A file it hands to another process (a child, a loader hook) must
// be named with the extension of the build that is running: child.ts there, child.js here.
export function ownModule(relative: string, from: string): URL {
  const url = new URL(relative, from);
  if (from.endsWith(".js")) url.pathname = url.pathname.replace(/\.ts$/, ".js");
  return url;
}

/** Whether this module runs from Galley's TypeScript sources (a TypeScript loader is active). */
export const runningFromSources = (from: string): boolean => from.endsWith(".ts");
