// .galley/<instance>/report.html, one self-contained page (inline SVG and CSS, no script, nothing
// fetched): a row per node (and one for the cluster), a time axis, fault windows shaded on the nodes
// they touched, each check and invariant poll as a mark (green passed, red failed; the message shows on
// hover, SVG <title>), and unit state changes from the nodes' journals. Pure: data in, text out.
import type { FaultWindow } from "../instance/faults.ts";

export interface ReportMark {
  row: string;
  at: number;
  ok: boolean;
  label: string;
  message?: string;
  kind: "check" | "poll" | "step";
}

export interface UnitChange {
  node: string;
  at: number;
  unit: string;
  /** active, inactive, failed, activating, deactivating */
  state: string;
  message: string;
}

export interface ReportData {
  instance: string;
  title: string;
  from: number;
  to: number;
  nodes: string[];
  windows: FaultWindow[];
  marks: ReportMark[];
  units: UnitChange[];
  /** Lines under the title: seed, verdict, where the evidence is. */
  notes: string[];
}

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c]!);

const COLORS: Record<string, string> = {
  partition: "#f4a261", drop: "#e9c46a", degrade: "#a8dadc", pause: "#b5a6d6", "pause-unit": "#d6c6f0",
  crash: "#e76f51", stop: "#e76f51", isolate: "#f4a261",
};

export function renderReport(d: ReportData): string {
  const rows = ["cluster", ...d.nodes];
  const left = 120;
  const width = 1100;
  const rowH = 46;
  const top = 30;
  const span = Math.max(1, d.to - d.from);
  const x = (t: number) => left + ((Math.min(Math.max(t, d.from), d.to) - d.from) / span) * (width - left - 10);
  const y = (row: string) => top + rows.indexOf(row) * rowH;
  const height = top + rows.length * rowH + 30;
  const svg: string[] = [];
  // Rows and their names.
  rows.forEach((r, i) => {
    svg.push(`<g class="row" data-row="${esc(r)}"><rect x="${left}" y="${top + i * rowH}" width="${width - left - 10}" height="${rowH - 4}" fill="${i % 2 ? "#fafafa" : "#f2f2f2"}"/>` +
      `<text x="${left - 8}" y="${top + i * rowH + rowH / 2}" text-anchor="end" dominant-baseline="middle" class="row-name">${esc(r)}</text></g>`);
  });
  // Time axis: ticks every "nice" number of seconds.
  const seconds = span / 1000;
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => seconds / s <= 12) ?? 1200;
  for (let s = 0; s <= seconds; s += step) {
    const tx = x(d.from + s * 1000);
    svg.push(`<g class="tick"><line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 26}" stroke="#ddd"/><text x="${tx}" y="${top - 8}" text-anchor="middle">+${s}s</text></g>`);
  }
  // Fault windows, on each node they touched.
  for (const w of d.windows) {
    for (const n of w.nodes.filter((n) => rows.includes(n))) {
      const x1 = x(w.from);
      const x2 = Math.max(x1 + 2, x(w.to));
      svg.push(`<rect class="fault-window" data-kind="${esc(w.kind)}" data-node="${esc(n)}" x="${x1.toFixed(1)}" y="${y(n) + 2}" width="${(x2 - x1).toFixed(1)}" height="${rowH - 8}" fill="${COLORS[w.kind] ?? "#ccc"}" fill-opacity="0.75">` +
        `<title>${esc(`${w.label}\n${new Date(w.from).toISOString()} → ${w.open ? "still in effect" : new Date(w.to).toISOString()} (${((w.to - w.from) / 1000).toFixed(1)} s)`)}</title></rect>`);
    }
  }
  // Unit state changes: small ticks at the bottom of the node's row.
  for (const u of d.units.filter((u) => rows.includes(u.node))) {
    const ux = x(u.at);
    const color = u.state === "failed" ? "#c1121f" : u.state === "active" ? "#2a9d8f" : u.state === "inactive" ? "#6c757d" : "#e9c46a";
    svg.push(`<rect class="unit-change" data-state="${esc(u.state)}" data-unit="${esc(u.unit)}" x="${(ux - 1.5).toFixed(1)}" y="${y(u.node) + rowH - 14}" width="3" height="9" fill="${color}">` +
      `<title>${esc(`${u.node} ${new Date(u.at).toISOString()}\n${u.unit}: ${u.state}\n${u.message}`)}</title></rect>`);
  }
  // Checks, polls and steps: circles (failed ones drawn last, on top, larger).
  for (const m of [...d.marks].sort((a, b) => Number(b.ok) - Number(a.ok))) {
    if (!rows.includes(m.row)) continue;
    const cx = x(m.at);
    const cy = y(m.row) + (m.kind === "check" ? 12 : m.kind === "step" ? 30 : 21);
    const r = m.ok ? 4 : 6;
    const cls = `mark ${m.kind} ${m.ok ? "pass" : "fail"}`;
    svg.push(`<circle class="${cls}" cx="${cx.toFixed(1)}" cy="${cy}" r="${r}" fill="${m.ok ? "#2a9d8f" : "#d62828"}" stroke="#fff" stroke-width="1">` +
      `<title>${esc(`${m.ok ? "✓" : "✗"} ${m.label} (${new Date(m.at).toISOString()})${m.message ? `\n${m.message}` : ""}`)}</title></circle>`);
  }
  const failed = d.marks.filter((m) => !m.ok);
  const legend = Object.entries(COLORS).filter(([k]) => d.windows.some((w) => w.kind === k))
    .map(([k, c]) => `<span class="swatch" style="background:${c}"></span>${esc(k)}`).join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 4px}
.notes{color:#555;margin:0 0 12px;white-space:pre-wrap}
svg text{font-size:12px;fill:#444}
svg .row-name{font-weight:600;fill:#222}
.legend{margin:8px 0}
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle;border-radius:2px}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 10px;vertical-align:middle}
table{border-collapse:collapse;margin-top:16px}
td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}
td.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}
</style></head>
<body>
<h1>${esc(d.title)}</h1>
<p class="notes">${esc(d.notes.join("\n"))}</p>
<div class="legend">faults: ${legend || "none"} <span class="dot" style="background:#2a9d8f"></span>passed <span class="dot" style="background:#d62828"></span>failed · top row of marks: checks, middle: invariant polls, bottom: chaos steps · ticks at the bottom of a row: unit state changes · hover for details</div>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of ${esc(d.instance)}">
${svg.join("\n")}
</svg>
<h2>Failed (${failed.length})</h2>
<table id="failures"><tr><th>when</th><th>where</th><th>what</th><th>message</th></tr>
${failed.map((m) => `<tr class="failure"><td>+${((m.at - d.from) / 1000).toFixed(1)} s</td><td>${esc(m.row)}</td><td>${esc(m.label)}</td><td class="msg">${esc(m.message ?? "")}</td></tr>`).join("\n")}
</table>
<h2>Faults (${d.windows.length})</h2>
<table id="faults"><tr><th>from</th><th>to</th><th>fault</th></tr>
${d.windows.map((w) => `<tr><td>+${((w.from - d.from) / 1000).toFixed(1)} s</td><td>${w.open ? "still in effect" : `+${((w.to - d.from) / 1000).toFixed(1)} s`}</td><td>${esc(w.label)}</td></tr>`).join("\n")}
</table>
</body></html>
`;
}
