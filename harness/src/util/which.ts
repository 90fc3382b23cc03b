// Where a command is: on PATH, or in the sbin folders a non-root PATH often lacks (dockerd, sysctl).
import { existsSync } from "node:fs";
import path from "node:path";

export function onPath(cmd: string, withSbin = true): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), ...(withSbin ? ["/usr/sbin", "/sbin"] : [])];
  for (const dir of dirs) if (dir && existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  return undefined;
}
