// One precedence rule for attributes and artifacts: defaults < platform < suite < node.
// Objects merge key by key; anything else (arrays included) is replaced by the later layer.

export type Attrs = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Attrs =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function deepMerge(...layers: (Attrs | undefined)[]): Attrs {
  const out: Attrs = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) {
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Attrs, v) : structuredClone(v);
    }
  }
  return out;
}
