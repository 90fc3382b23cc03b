// The matrix as instances: the chosen suite's plan, once per combination of axis values, with those
// artifacts swapped in. Pure, so `galley matrix --list` and the tests need no Docker.
import path from "node:path";
import { UserError } from "../errors.ts";
import type { LoadedConfig } from "../config/load.ts";
import { planInstances, type InstancePlan } from "../plan/plan.ts";

export interface Cell {
  plan: InstancePlan;
  /** axis → label, e.g. { etcd: "3.4.23", fleet: "1.0.0" } */
  values: Record<string, string>;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** `selection` restricts axes to some labels: { etcd: ["3.4.23", "3.6"] }. */
export function planMatrix(loaded: LoadedConfig, selection: Record<string, string[]> = {}): Cell[] {
  const m = loaded.config.matrix;
  if (!m) throw new UserError(`${loaded.file}: no matrix section (see README: The compatibility matrix)`);
  const base = planInstances(loaded).find((p) => p.suite === m.suite && (!m.platform || p.platform === m.platform));
  if (!base) throw new UserError(`${loaded.file}: matrix.suite ${m.suite} has no instance${m.platform ? ` on ${m.platform}` : ""}`);
  const axes = Object.entries(m.axes).map(([axis, values]) => {
    const wanted = selection[axis];
    const labels = Object.keys(values);
    for (const w of wanted ?? []) {
      if (!labels.includes(w)) throw new UserError(`matrix axis ${axis} has no value ${w} (values: ${labels.join(", ")})`);
    }
    return { axis, labels: wanted ?? labels };
  });
  for (const axis of Object.keys(selection)) {
    if (!m.axes[axis]) throw new UserError(`matrix has no axis ${axis} (axes: ${Object.keys(m.axes).join(", ")})`);
  }
  let combos: Record<string, string>[] = [{}];
  for (const { axis, labels } of axes) combos = combos.flatMap((c) => labels.map((l) => ({ ...c, [axis]: l })));
  return combos.map((values) => {
    const name = ["matrix", ...Object.entries(values).map(([a, v]) => `${a}-${slug(v)}`)].join("-");
    const artifacts = { ...base.artifacts };
    for (const [axis, label] of Object.entries(values)) artifacts[axis] = { ...m.axes[axis]![label]!, base: loaded.root };
    return { values, plan: { ...base, name, stateDir: path.join(loaded.root, ".galley", name), artifacts } };
  });
}
