// Gathers what report.html draws for the last run of an instance — its checks and polls (verify.json or
// chaos.json, whichever is newer), the faults of the run's time span (faults.jsonl), and unit state
// changes from every running node's journal (systemd's own messages) — and writes the page.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { chaosFile, type ChaosResult } from "../chaos/run.ts";
import type { Instance } from "../instance/instance.ts";
import { faultWindows, readFaultEvents } from "../instance/faults.ts";
import { transportFor } from "../transports/index.ts";
import type { VerifyReport } from "../verifiers/results.ts";
import { renderReport, type ReportMark, type UnitChange } from "./html.ts";

export const reportFile = (stateDir: string) => path.join(stateDir, "report.html");

export async function writeReport(inst: Instance, notes: string[] = []): Promise<string> {
  const dir = inst.plan.stateDir;
  const verify = path.join(dir, "verify.json");
  const chaos = chaosFile(dir);
  const newer = (a: string, b: string) => existsSync(a) && (!existsSync(b) || statSync(a).mtimeMs >= statSync(b).mtimeMs);
  let run: { title: string; checks: VerifyReport["checks"]; polls: NonNullable<VerifyReport["polls"]>; steps: NonNullable<VerifyReport["chaos"]>; from?: number; to?: number; notes: string[] };
  if (newer(chaos, verify)) {
    const c = JSON.parse(readFileSync(chaos, "utf8")) as ChaosResult;
    run = { title: `galley chaos ${inst.plan.name}`, checks: c.checks, polls: c.polls, steps: c.steps, from: c.startedAt, to: c.endedAt, notes: [`seed ${c.schedule.seed}, ${c.schedule.durationMs / 1000} s, faults: ${c.schedule.faults.join(", ")} · ${c.passed ? "passed" : "FAILED"}`] };
  } else if (existsSync(verify)) {
    const v = JSON.parse(readFileSync(verify, "utf8")) as VerifyReport;
    const failed = v.checks.filter((c) => c.state === "failed").length;
    run = { title: `galley verify ${inst.plan.name}`, checks: v.checks, polls: v.polls ?? [], steps: v.chaos ?? [], notes: [`${v.checks.length} checks, ${failed} failed`] };
  } else {
    run = { title: `${inst.plan.name}`, checks: [], polls: [], steps: [], notes: ["no checks have run"] };
  }
  const times = [...run.checks.flatMap((c) => [c.startedAt ?? 0, c.endedAt ?? 0]), ...run.polls.map((p) => p.at), ...run.steps.map((s) => s.at)].filter(Boolean);
  const from = run.from ?? (times.length ? Math.min(...times) : Date.now() - 60_000);
  const to = Math.max(run.to ?? 0, ...times, from + 1000);
  const marks: ReportMark[] = [
    ...run.checks.filter((c) => c.state !== "pending").map((c) => ({ row: "cluster", at: c.endedAt ?? to, ok: c.state === "passed", label: c.title, message: c.error, kind: "check" as const })),
    ...run.polls.map((p) => ({ row: p.node ?? "cluster", at: p.at, ok: p.ok, label: `invariant: ${p.invariant}`, message: p.message, kind: "poll" as const })),
    ...run.steps.map((s) => ({ row: "cluster", at: s.at, ok: !s.error, label: `step ${s.step}: ${s.label}`, message: s.error, kind: "step" as const })),
  ];
  const windows = faultWindows(readFaultEvents(dir, from - 1), to).filter((w) => w.to >= from && w.from <= to);
  const units = await unitChanges(inst, from, to);
  const html = renderReport({ instance: inst.plan.name, title: run.title, from, to, nodes: inst.plan.nodes.map((n) => n.name), windows, marks, units, notes: [...run.notes, `${new Date(from).toISOString()} → ${new Date(to).toISOString()}`, ...notes] });
  const file = reportFile(dir);
  writeFileSync(file, html);
  return file;
}

const STATES: [RegExp, string][] = [
  [/^Started /, "active"], [/^Starting /, "activating"], [/^Stopping /, "deactivating"], [/^Stopped /, "inactive"],
  [/^Deactivated successfully/, "inactive"], [/Failed with result|^Failed to start /, "failed"], [/Main process exited/, "exited"],
];

/** systemd's (PID 1's) messages about services in the window, from each node that can be asked. */
async function unitChanges(inst: Instance, from: number, to: number): Promise<UnitChange[]> {
  const transport = transportFor({ name: inst.components.driver.controlTransport, commandTimeoutMs: 30_000 });
  const out: UnitChange[] = [];
  await Promise.all(inst.plan.nodes.map(async (n) => {
    if (!inst.state.nodes[n.name]) return;
    try {
      const conn = await transport.connect(inst.address(n.name));
      const r = await conn.exec(`journalctl _PID=1 -o json --no-pager --since=@${Math.floor(from / 1000)} --until=@${Math.ceil(to / 1000) + 1} --output-fields=UNIT,MESSAGE,__REALTIME_TIMESTAMP`, { timeoutMs: 30_000 });
      await conn.close();
      for (const line of r.stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as { UNIT?: string; MESSAGE?: string; __REALTIME_TIMESTAMP?: string };
        if (!e.UNIT?.endsWith(".service") || typeof e.MESSAGE !== "string") continue;
        const message = e.MESSAGE;
        const state = STATES.find(([re]) => re.test(message.replace(/^[^:]*\.service: /, "")))?.[1] ?? STATES.find(([re]) => re.test(message))?.[1];
        if (state) out.push({ node: n.name, at: Number(e.__REALTIME_TIMESTAMP) / 1000, unit: e.UNIT, state, message });
      }
    } catch {
      /* a node that is down has no journal to ask now: its changes are in the evidence bundle */
    }
  }));
  return out;
}
