// When a converge fails because of a unit ("Job for web.service failed", "cannot start web"), the
// error shows that unit's state and last journal lines from the node, so nobody has to log in to see
// why it did not start. Only units that are loaded and not active are shown.
import type { UnitFailure } from "../errors.ts";
import { shellQuote, type Connection } from "../transports/transport.ts";

const SUFFIXES = "service|socket|mount|timer|path|target|scope|slice";
const UNIT = new RegExp(`(?<![\\w@.:-])([A-Za-z0-9][\\w@.:-]*\\.(?:${SUFFIXES}))\\b`, "g");
/** What galley.sh and the fixture's helpers say about a unit named without a suffix. */
const HELPER = /\bcannot (?:start|restart|enable|unmask|stop) ([A-Za-z0-9][\w@.:-]*?):/g;

/** The units a failure's output names, in order of first mention (at most `max`). */
export function unitsNamedIn(text: string, max = 3): string[] {
  const found: string[] = [];
  const add = (u: string) => {
    const unit = new RegExp(`\\.(?:${SUFFIXES})$`).test(u) ? u : `${u}.service`;
    if (!found.includes(unit)) found.push(unit);
  };
  const mentions = [...text.matchAll(UNIT)].map((m) => ({ at: m.index, unit: m[1]! }));
  mentions.push(...[...text.matchAll(HELPER)].map((m) => ({ at: m.index, unit: m[1]! })));
  for (const m of mentions.sort((a, b) => a.at - b.at)) add(m.unit);
  return found.slice(0, max);
}

/** State and last journal lines of those of `units` that are loaded on the node and not active. */
export async function unitEvidence(conn: Connection, node: string, units: string[], lines = 15): Promise<UnitFailure[]> {
  if (!units.length) return [];
  const script = units
    .map((u) => `echo "=== ${u} $(systemctl show -p LoadState,ActiveState,SubState ${shellQuote(u)} 2>/dev/null | tr '\\n' ' ')"; journalctl -u ${shellQuote(u)} -n ${lines} --no-pager -o short-iso 2>&1 || true`)
    .join("\n");
  const r = await conn.exec(script, { timeoutMs: 20_000 }).catch(() => undefined);
  if (!r) return [];
  const out: UnitFailure[] = [];
  for (const section of r.stdout.split(/^=== /m).slice(1)) {
    const [head = "", ...journal] = section.split("\n");
    const unit = head.split(" ")[0]!;
    const prop = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(head)?.[1];
    const [load, active, sub] = [prop("LoadState"), prop("ActiveState"), prop("SubState")];
    if (load !== "loaded" || !active || active === "active") continue;
    out.push({ node, unit, state: `${active}/${sub ?? "?"}`, journalTail: journal.join("\n").trim() });
  }
  return out;
}
