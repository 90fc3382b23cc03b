// galley list: every instance with its driver, last action, faults in effect, snapshots and last error.
import type { Command } from "commander";
import { describeFault } from "../../contracts/faults.ts";
import { readState, type InstanceState } from "../../state/state-file.ts";
import { say } from "../../util/ui.ts";
import type { CliContext } from "../context.ts";

export function register(program: Command, ctx: CliContext): void {
  program
    .command("list [instance]")
    .description("instances with their last action, faults in effect, snapshots and last error")
    .option("--json", "machine-readable output")
    .action((pattern: string | undefined, opts: { json?: boolean }) => {
      const rows = ctx.plans(pattern).map((p) => {
        let s: InstanceState;
        try {
          s = readState(p.stateDir, p.name);
        } catch (err) {
          s = { instance: p.name, nodes: {}, lastError: (err as Error).message };
        }
        return {
          instance: p.name,
          nodes: p.nodes.length,
          driver: p.driver.name,
          transport: p.transport.name,
          lastAction: s.lastAction ?? "<not created>",
          faults: [...Object.entries(s.faults ?? {}).map(([n, f]) => `${n} ${f.join("+")}`), ...(s.links ?? []).map((l) => describeFault(l.spec))].join("; "),
          snapshots: Object.keys(s.snapshots ?? {}).sort().join(", "),
          lastError: s.lastError ?? "",
        };
      });
      if (opts.json) return say(JSON.stringify(rows, null, 2));
      const header = { instance: "Instance", nodes: "Nodes", driver: "Driver", transport: "Transport", lastAction: "Last Action", faults: "Faults", snapshots: "Snapshots", lastError: "Last Error" };
      const table = [header, ...rows.map((r) => ({ ...r, nodes: String(r.nodes) }))];
      const keys = Object.keys(header) as (keyof typeof header)[];
      const widths = keys.map((k) => Math.max(...table.map((r) => String(r[k]).length)));
      for (const r of table) say(keys.map((k, i) => String(r[k]).padEnd(widths[i]!)).join("  ").trimEnd());
    });
}
