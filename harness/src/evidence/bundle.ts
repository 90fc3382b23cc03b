// Evidence a person can read when a run fails: .galley/<instance>/evidence/<node>/ for every node, with
// what the engine knows (the node's provisioning log, the faults in effect) and what the driver can still
// read from the box (journal in export and text form, failed units with systemctl status, network state,
// the box's description) — also for a node that is down or frozen. Written on any failed action or check
// and by `galley collect`. README.txt says why, when, and what could not be read.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describeFault, nodesOf } from "../contracts/faults.ts";
import { messageOf } from "../errors.ts";
import type { Instance } from "../instance/instance.ts";
import { KEPT_LOGS } from "../util/instance-log.ts";

export const evidenceDir = (stateDir: string) => path.join(stateDir, "evidence");

export interface Bundle {
  dir: string;
  nodes: Record<string, { files: string[]; missing: string[] }>;
}

export async function collectEvidence(inst: Instance, reason: string): Promise<Bundle> {
  const dir = evidenceDir(inst.plan.stateDir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const nodes = inst.plan.nodes.map((n) => n.name).filter((n) => inst.state.nodes[n]);
  // Each command starts galley.log anew: the converge and the faults may be in the kept earlier logs.
  inst.log.flush();
  const logs = [inst.log.file, ...Array.from({ length: KEPT_LOGS }, (_, i) => `${inst.log.file}.${i + 1}`)].map((f) => ({ file: path.basename(f), lines: readLog(f) }));
  const log = logs.slice().reverse().flatMap((l) => l.lines);
  const bundle: Bundle = { dir, nodes: {} };
  await Promise.all(nodes.map(async (node) => {
    const out = path.join(dir, node);
    mkdirSync(out, { recursive: true });
    const files: string[] = [];
    const missing: string[] = [];
    const write = (name: string, text: string) => {
      writeFileSync(path.join(out, name), text);
      files.push(name);
    };
    // The node's lines of the newest log that has any (the last converge).
    const provisioning = (lines: string[]) => lines.filter((l) => l.includes(` [${node}] `) || l.includes(` [${node} provision`));
    const last = logs.find((l) => provisioning(l.lines).length);
    write("provision.log", last ? `# from ${last.file}\n${provisioning(last.lines).join("\n")}\n` : `# no provisioning of ${node} in ${logs.map((l) => l.file).join(", ")}\n`);
    const own = inst.state.faults?.[node] ?? [];
    const links = (inst.state.links ?? []).filter((l) => nodesOf(l.spec).includes(node));
    write("faults.txt", [
      `faults in effect on ${node}: ${own.join(", ") || "none"}`,
      `network faults it takes part in: ${links.map((l) => `${describeFault(l.spec)} (since ${l.since})`).join("; ") || "none"}`,
      "",
      `fault log (${logs.map((l) => l.file).reverse().join(", ")}):`,
      ...log.filter((l) => l.includes(" [fault] ") || l.includes(` [${node} fault] `)),
    ].join("\n") + "\n");
    const driver = inst.components.driver;
    if (!driver.collect) {
      missing.push(`journal, units, network, box description: the ${driver.name} driver cannot collect evidence`);
    } else {
      try {
        const r = await driver.collect(inst.state, node, out);
        files.push(...r.files);
        missing.push(...r.missing);
      } catch (err) {
        missing.push(`the driver's collection failed: ${messageOf(err)}`);
      }
    }
    bundle.nodes[node] = { files, missing };
  }));
  const readme = [
    `Evidence for ${inst.plan.name}, collected ${new Date().toISOString()}`,
    `why: ${reason}`,
    "",
    ...Object.entries(bundle.nodes).flatMap(([node, r]) => [
      `${node}/: ${r.files.join(", ")}`,
      ...r.missing.map((m) => `  not collected: ${m}`),
    ]),
    "",
    "journal.export: `journalctl --file` cannot read it; `systemd-journal-remote -o x.journal journal.export` or read it as text.",
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "README.txt"), readme);
  inst.log.write("evidence", `written to ${dir}: ${reason}`);
  return bundle;
}

function readLog(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n");
  } catch {
    return [];
  }
}
