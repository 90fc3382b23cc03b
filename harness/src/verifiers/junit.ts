// JUnit XML of a verification run: one testsuite per suite, properties for reported facts, skips with
// their reasons. A failed check can carry attachments — the evidence bundle's files — as the
// [[ATTACHMENT|/absolute/path]] lines in <system-out> that Jenkins' JUnit attachments plugin and GitLab
// read.
import type { VerifyReport } from "./results.ts";

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

export function junit(report: VerifyReport, attachments: string[] = []): string {
  const attached = attachments.length ? `<system-out>${esc(attachments.map((a) => `[[ATTACHMENT|${a}]]`).join("\n"))}</system-out>` : "";
  const suites = report.suites.map((s) => {
    const cases = report.checks.filter((r) => r.suite === s.suite).map((r) => {
      const props = Object.entries(r.properties ?? {}).map(([k, v]) => `<property name="${esc(k)}" value="${esc(v)}"/>`).join("");
      const body = (props ? `<properties>${props}</properties>` : "") +
        (r.state === "failed"
          ? `<failure message="${esc(r.error!.split("\n")[0]!)}">${esc(r.error!)}</failure>${attached}`
          : r.state === "pending" ? `<skipped message="${esc(r.skipReason ?? "")}"/>` : "");
      return `    <testcase classname="${esc(`${report.instance}.${s.suite}`)}" name="${esc(r.test)}" time="${(r.ms / 1000).toFixed(3)}">${body}</testcase>`;
    });
    return `  <testsuite name="${esc(s.suite)}" tests="${s.passed + s.failed + s.skipped}" failures="${s.failed}" skipped="${s.skipped}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  const total = report.checks.length;
  const failed = report.checks.filter((r) => r.state === "failed").length;
  const skipped = report.checks.filter((r) => r.state === "pending").length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(report.instance)}" tests="${total}" failures="${failed}" skipped="${skipped}">\n${suites.join("\n")}\n</testsuites>\n`;
}
