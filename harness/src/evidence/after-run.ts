// After a run of checks (verify, chaos) or a failed action: on failure the evidence bundle, and the JUnit
// report rewritten with the bundle's files attached to each failed check; always report.html. Returns
// the lines to print ("evidence: …", "report: …").
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { messageOf } from "../errors.ts";
import type { Instance, RunOutcome } from "../instance/instance.ts";
import { writeReport } from "../report/write.ts";
import { junit } from "../verifiers/junit.ts";
import type { VerifyReport } from "../verifiers/results.ts";
import { collectEvidence } from "./bundle.ts";

/** The Instance's AfterRun (the CLI gives it to every instance it opens); `galley chaos` calls it too. */
export async function afterRun(inst: Instance, o: RunOutcome): Promise<string> {
  const lines: string[] = [];
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  if (o.failed) {
    try {
      const bundle = await collectEvidence(inst, o.reason);
      lines.push(`evidence: ${rel(bundle.dir)}/ (${Object.keys(bundle.nodes).sort().join(", ")}: journal, units, network, box description)`);
      if (o.results && existsSync(o.results.json)) {
        const report = JSON.parse(readFileSync(o.results.json, "utf8")) as VerifyReport;
        const files = [path.join(bundle.dir, "README.txt"), ...Object.entries(bundle.nodes).flatMap(([node, r]) =>
          ["journal.txt", "failed-units.txt", "network.txt", "docker-inspect.json"].filter((f) => r.files.includes(f)).map((f) => path.join(bundle.dir, node, f)))];
        writeFileSync(o.results.junit, junit(report, files.map((f) => path.resolve(f))));
      }
    } catch (err) {
      lines.push(`evidence: could not be collected: ${messageOf(err)}`);
    }
  }
  try {
    lines.push(`report: ${rel(await writeReport(inst))}`);
  } catch (err) {
    lines.push(`report: could not be written: ${messageOf(err)}`);
  }
  return lines.join("\n");
}
