// Attributes as environment variables for the scripts Galley runs on boxes (the provisioning's and the
// services'): ATTR_<PATH> (etcd.enable_v2 → ATTR_ETCD_ENABLE_V2); objects flatten, lists join with commas.
// Here rather than in provisioners/ because services use it too, and services sit below provisioners.
import type { Attrs } from "./merge.ts";

export function flattenAttributes(attrs: Attrs, prefix = "ATTR"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    const key = `${prefix}_${k.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) Object.assign(out, flattenAttributes(v as Attrs, key));
    else if (Array.isArray(v)) out[key] = v.join(",");
    else if (v !== null && v !== undefined) out[key] = String(v);
  }
  return out;
}
