// Facts a versions spec reports about what each node runs, one per name
// <kind>.<artifact>.<program>.<node> (see matrix/versions.ts for what the matrix does with them).
// Shared by the suite API (which reports them) and the matrix (which compares them).
export const FACT_KINDS = ["version", "series", "module", "sha256", "exe"] as const;
export type FactKind = (typeof FACT_KINDS)[number];

export interface Fact {
  kind: FactKind;
  artifact: string;
  program: string;
  node: string;
  value: string;
}

export function factName(kind: FactKind, artifact: string, program: string, node: string): string {
  for (const [what, v] of [["program", program], ["node", node]] as const) {
    if (!v || v.includes(".")) throw new Error(`fact ${kind}.${artifact}: ${what} "${v}" must be non-empty and have no dot`);
  }
  return `${kind}.${artifact}.${program}.${node}`;
}

/** The facts among a cell's properties (other properties are left alone). */
export function parseFacts(properties: Record<string, string>): Fact[] {
  const facts: Fact[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const parts = name.split(".");
    const kind = parts[0] as FactKind;
    if (parts.length < 4 || !FACT_KINDS.includes(kind)) continue;
    facts.push({ kind, artifact: parts.slice(1, -2).join("."), program: parts.at(-2)!, node: parts.at(-1)!, value });
  }
  return facts;
}
