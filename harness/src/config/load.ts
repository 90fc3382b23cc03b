// Read → parse YAML → validate against the schema → check cross-references. Every problem is reported
// at once, each as `file:line: key.path: message`, so a user fixes the file in one pass.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { isMap, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { boxNotFound, findBox } from "../boxes/definition.ts";
import { UserError } from "../errors.ts";
import { isIsoDate, knownColumn, STAGE_COLUMNS, suiteTitles } from "./matrix-columns.ts";
import { GalleyConfig, NODE_NAME } from "./schema.ts";

export interface LoadedConfig {
  file: string;
  /** Folder of the config file: relative paths in it resolve from here, and `.galley/` lives here. */
  root: string;
  config: GalleyConfig;
}

export const DEFAULT_CONFIG = "galley.yml";

export function resolveConfigPath(explicit?: string, cwd = process.cwd()): string {
  return path.resolve(cwd, explicit ?? process.env.GALLEY_CONFIG ?? DEFAULT_CONFIG);
}

export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UserError(`${file}: config file not found (choose one with --config FILE or GALLEY_CONFIG)`);
  }
  return parseConfig(text, file);
}

type Path = readonly PropertyKey[];

export function parseConfig(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const rel = path.relative(process.cwd(), file) || file;
  if (doc.errors.length) {
    const msgs = doc.errors.map((e) => {
      const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
      return `${rel}:${line}: invalid YAML: ${e.message.split("\n")[0]}`;
    });
    throw new UserError(msgs.join("\n"));
  }
  const raw = doc.toJS();
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError(`${rel}:1: expected a mapping with driver, provisioner, verifier, platforms and suites`);
  }
  const where = (p: Path, key?: string) => `${rel}:${lineOf(doc, lines, p, key)}: ${dotted(key ? [...p, key] : p)}`;

  const parsed = GalleyConfig.safeParse(raw);
  if (!parsed.success) {
    throw new UserError(parsed.error.issues.flatMap((i) => describeIssue(i, where)).join("\n"));
  }
  const root = path.dirname(file);
  const errors = checkRules(parsed.data, root, where);
  if (errors.length) throw new UserError(errors.join("\n"));
  return { file, root, config: parsed.data };
}

function describeIssue(issue: z.core.$ZodIssue, where: (p: Path, key?: string) => string): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${where(issue.path, k)}: unknown key`);
  }
  if (issue.code === "invalid_union" && issue.errors.length) {
    // Report the branch that got furthest, not zod's generic "invalid input".
    const best = issue.errors.map((branch) => branch[0]).filter(Boolean).sort((a, b) => b!.path.length - a!.path.length)[0];
    if (best && best.code !== "invalid_type") return describeIssue({ ...best, path: [...issue.path, ...best.path] }, where);
  }
  const message = issue.code === "invalid_type" && issue.message.includes("received undefined")
    ? "is required"
    : issue.message.replace(/^Invalid input: /, "");
  return [`${where(issue.path)}: ${message}`];
}

function dotted(p: Path): string {
  return p.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i ? "." : ""}${String(k)}`)).join("") || "(top level)";
}

/** The line of the node at `p` (of the key `key` inside it, if given); the nearest existing parent otherwise. */
function lineOf(doc: Document, lines: LineCounter, p: Path, key?: string): number {
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (!node?.range) continue;
    if (key !== undefined && n === p.length && isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown })?.value === key);
      const r = (pair?.key as { range?: number[] } | undefined)?.range;
      if (r?.[0] !== undefined) return lines.linePos(r[0]).line;
    }
    if (isSeq(node) || isMap(node) || node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

function checkRules(c: GalleyConfig, root: string, where: (p: Path, key?: string) => string): string[] {
  const errors: string[] = [];
  const dir = (rel: string, p: Path, key: string, mustHave?: string) => {
    const abs = path.resolve(root, rel);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) errors.push(`${where(p, key)}: folder not found: ${abs}`);
    else if (mustHave && !existsSync(path.join(abs, mustHave))) errors.push(`${where(p, key)}: ${abs} has no ${mustHave}`);
  };
  const exists = (rel: string, p: Path, key: string) => {
    if (!existsSync(path.resolve(root, rel))) errors.push(`${where(p, key)}: not found: ${path.resolve(root, rel)}`);
  };
  const unique = (items: { name: string }[], at: Path) => {
    const seen = new Set<string>();
    items.forEach((it, i) => {
      if (seen.has(it.name)) errors.push(`${where([...at, i], "name")}: duplicate name ${it.name}`);
      seen.add(it.name);
    });
  };
  unique(c.platforms, ["platforms"]);
  unique(c.suites, ["suites"]);
  const platformNames = c.platforms.map((p) => p.name);

  const prov = c.provisioner;
  const provisionerDir = (rel: string, p: Path, key: string, script?: string, cluster?: string) => {
    if (prov.name !== "shell") return;
    dir(rel, p, key, script ?? prov.script ?? "provision.sh");
    const cs = cluster ?? prov.cluster_script;
    if (cs) exists(path.join(rel, cs), p, key);
  };
  if (prov.name === "shell") provisionerDir(prov.path, ["provisioner"], "path");
  if (prov.name === "ansible") {
    exists(prov.playbook, ["provisioner"], "playbook");
    if (prov.requirements) exists(prov.requirements, ["provisioner"], "requirements");
  }
  if (prov.name === "puppet") {
    exists(prov.manifest, ["provisioner"], "manifest");
    if (prov.cluster_manifest) exists(prov.cluster_manifest, ["provisioner"], "cluster_manifest");
    const mp = prov.modulepath;
    if (Array.isArray(mp)) mp.forEach((m, i) => dir(m, ["provisioner", "modulepath"], String(i)));
    else if (mp) dir(mp, ["provisioner"], "modulepath");
    if (prov.options?.includes("--noop")) errors.push(`${where(["provisioner"], "options")}: --noop would change nothing and prove nothing: remove it`);
  }
  for (const s of [c.verifier.suites].flat()) exists(s, ["verifier"], "suites");
  c.platforms.forEach((p, i) => {
    if (!findBox(p.box, root)) errors.push(`${where(["platforms", i], "box")}: ${boxNotFound(p.box, root)}`);
  });

  const artifacts = (a: GalleyConfig["artifacts"], p: Path, key = "artifacts") => {
    for (const [name, spec] of Object.entries(a ?? {})) {
      if (spec.source === "path") dir(spec.path, [...p, key, name], "path");
      else if (spec.source !== "url") dir(spec.recipe, [...p, key, name], "recipe", "build.sh");
    }
  };
  artifacts(c.artifacts, []);
  c.platforms.forEach((p, i) => artifacts(p.artifacts, ["platforms", i]));

  const services = (svc: GalleyConfig["services"], p: Path) => {
    for (const [name, spec] of Object.entries(svc ?? {})) exists(spec.script, [...p, "services", name], "script");
  };
  services(c.services, []);
  for (const [name, env] of Object.entries(c.environments ?? {})) services(env.services, ["environments", name]);
  const environments = Object.keys(c.environments ?? {});

  if (c.matrix) {
    const suiteNames = c.suites.map((s) => s.name);
    if (!suiteNames.includes(c.matrix.suite)) errors.push(`${where(["matrix"], "suite")}: unknown suite ${c.matrix.suite} (suites: ${suiteNames.join(", ")})`);
    if (c.matrix.platform && !platformNames.includes(c.matrix.platform)) {
      errors.push(`${where(["matrix"], "platform")}: unknown platform ${c.matrix.platform} (platforms: ${platformNames.join(", ")})`);
    }
    for (const [axis, values] of Object.entries(c.matrix.axes)) artifacts(values, ["matrix", "axes"], axis);
    errors.push(...checkExpectations(c, root, where));
  }

  c.suites.forEach((s, i) => {
    services(s.services, ["suites", i]);
    if (s.environment && !environments.includes(s.environment)) {
      errors.push(`${where(["suites", i], "environment")}: unknown environment ${s.environment} (environments: ${environments.join(", ") || "none defined"})`);
    }
    for (const key of ["platforms", "excludes"] as const) {
      s[key]?.forEach((name, j) => {
        if (!platformNames.includes(name)) {
          errors.push(`${where(["suites", i, key], String(j))}: unknown platform ${name} (platforms: ${platformNames.join(", ")})`);
        }
      });
    }
    if (Array.isArray(s.nodes)) unique(s.nodes, ["suites", i, "nodes"]);
    else if (s.node_prefix && !NODE_NAME.test(`${s.node_prefix}${s.nodes - 1}`)) {
      errors.push(`${where(["suites", i], "node_prefix")}: ${s.node_prefix}${s.nodes - 1} is no host name (lower-case letters, digits and '-', at most 31)`);
    }
    if (s.provisioner && prov.name !== "shell") {
      errors.push(`${where(["suites", i], "provisioner")}: only the shell provisioner takes a suite's path and scripts (the provisioner is ${prov.name})`);
    } else if (prov.name === "shell" && (s.provisioner?.path || s.provisioner?.script || s.provisioner?.cluster_script)) {
      provisionerDir(s.provisioner.path ?? prov.path, ["suites", i, "provisioner"], "path", s.provisioner.script, s.provisioner.cluster_script);
    }
    for (const v of [s.verifier?.suites ?? []].flat()) exists(v, ["suites", i, "verifier"], "suites");
    artifacts(s.artifacts, ["suites", i]);
  });
  return errors;
}

/** matrix.expected_failures: known axes and labels, columns the matrix will have, real dates. */
function checkExpectations(c: GalleyConfig, root: string, where: (p: Path, key?: string) => string): string[] {
  const m = c.matrix!;
  const errors: string[] = [];
  const axes = Object.keys(m.axes);
  let titles: string[] | undefined;
  const suite = c.suites.find((s) => s.name === m.suite);
  try {
    titles = suite ? suiteTitles(root, [suite.verifier?.suites ?? c.verifier.suites].flat()) : undefined;
  } catch {
    titles = undefined; // a missing suite folder is reported on its own
  }
  (m.expected_failures ?? []).forEach((e, i) => {
    const at = ["matrix", "expected_failures", i];
    for (const [axis, want] of Object.entries(e.cell)) {
      if (!m.axes[axis]) {
        errors.push(`${where([...at, "cell"], axis)}: unknown axis ${axis} (axes: ${axes.join(", ")})`);
        continue;
      }
      const labels = Object.keys(m.axes[axis]);
      [want].flat().forEach((label, j) => {
        if (!labels.includes(label)) {
          const p = Array.isArray(want) ? where([...at, "cell", axis, j]) : where([...at, "cell"], axis);
          errors.push(`${p}: unknown ${axis} label ${label} (labels: ${labels.join(", ")})`);
        }
      });
    }
    if (titles) {
      const cols = e.columns === undefined ? [] : [e.columns].flat();
      cols.forEach((col, j) => {
        if (!knownColumn(col, titles!)) {
          const p = Array.isArray(e.columns) ? where([...at, "columns", j]) : where(at, "columns");
          errors.push(`${p}: unknown column ${col} (columns: ${[...new Set([...STAGE_COLUMNS, ...titles!])].join(", ")})`);
        }
      });
    }
    if (e.until !== undefined && !isIsoDate(e.until)) errors.push(`${where(at, "until")}: ${e.until} is not a calendar date`);
  });
  return errors;
}
