// The host's processes as /proc lists them, read one way for everyone who needs them (the children an
// interrupt must stop, the network shapers a destroy must find). Empty where there is no /proc.
import { readdirSync, readFileSync } from "node:fs";

/** Every process id /proc shows now. */
export function processIds(): number[] {
  try {
    return readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return [];
  }
}

/** A /proc file of a process, or undefined when the process exited meanwhile (or hides it). */
export function procFile(pid: number, file: "cmdline" | "stat"): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/** A process's parent, from /proc/<pid>/stat (after the command name, which may hold spaces). */
export function parentOf(pid: number): number | undefined {
  const stat = procFile(pid, "stat");
  return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}
