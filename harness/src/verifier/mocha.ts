// The mocha verifier: finds the suite's spec files and runs them in a child process against the
// instance. Output goes to the instance log; the caller gets one result per check.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ActionFailed, UserError } from "../errors.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { track } from "../util/children.ts";
import { lineSplitter } from "../util/lines.ts";
import type { VerifyReport } from "./results.ts";

export type { CheckResult } from "./results.ts";

const SPEC = /\.(spec|test)\.(ts|mts|js|mjs)$/;

export function specFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    if (!existsSync(p)) throw new UserError(`verifier suite not found: ${p}`);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p).sort()) walk(path.join(p, e));
    else if (SPEC.test(p)) out.push(p);
  };
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isFile()) out.push(p);
    else walk(p);
  }
  if (!out.length) throw new UserError(`no *.spec.ts files in ${paths.join(", ")}`);
  return out;
}

export async function runVerifier(plan: InstancePlan, log: InstanceLog): Promise<VerifyReport> {
  const files = specFiles(plan.verifier.suites);
  const resultsFile = path.join(plan.stateDir, "verify.json");
  rmSync(resultsFile, { force: true });
  const runner = fileURLToPath(new URL("./run-mocha.ts", import.meta.url));
  const code = await new Promise<number>((resolve, reject) => {
    const child = track(spawn(process.execPath, ["--import", "tsx", runner], {
      cwd: plan.root,
      env: {
        ...process.env,
        GALLEY_INSTANCE: plan.name,
        GALLEY_CONFIG: plan.configFile,
        GALLEY_SPECS: JSON.stringify(files),
        GALLEY_RESULTS: resultsFile,
        GALLEY_JUNIT: path.join(plan.stateDir, "junit.xml"),
        GALLEY_TIMEOUT_MS: String(plan.verifier.timeoutMs),
        GALLEY_REPORTER: plan.verifier.reporter,
      },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    const out = lineSplitter((l) => log.write("verify", l));
    child.stdout.on("data", (b: Buffer) => out.push(b.toString()));
    child.stderr.on("data", (b: Buffer) => out.push(b.toString()));
    child.on("error", reject);
    child.on("close", (c) => {
      out.flush();
      resolve(c ?? 1);
    });
  });
  if (!existsSync(resultsFile)) throw new ActionFailed(`the verifier did not run (exit ${code}); see ${log.file}`);
  const report = JSON.parse(readFileSync(resultsFile, "utf8")) as VerifyReport;
  if (code !== 0 && !report.checks.some((r) => r.state === "failed")) {
    throw new ActionFailed(`the verifier exited with ${code} before running every check; see ${log.file}`);
  }
  return report;
}
