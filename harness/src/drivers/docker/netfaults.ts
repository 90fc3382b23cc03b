// Link faults for Docker nodes, applied from the host inside each node's network namespace (nsenter -n
// -t <the container's init>): the node needs no network tools of its own, and docker exec — the control
// transport — does not go through that network, so a node cut off is still reachable.
//
// - Drops: iptables rules in the raw table (chain GALLEY-DROP, jumped to first from PREROUTING and
//   OUTPUT), by peer address. Before connection tracking and before anything Docker inside the node
//   adds, so an established connection or a nested container's traffic cannot slip past.
// - Degraded links: packets to a degraded peer go to NFQUEUE (mangle POSTROUTING, chain GALLEY-SHAPE)
//   and galley-netshaper, netem in user space, holds, drops or copies them (the kernels here lack
//   sch_netem; NFQUEUE is everywhere). --queue-bypass lets packets through if the shaper is gone.
//
// Everything lives in the node's namespace and dies with it; heal removes the chains, the shaper and the
// tables iptables-nft created for them when they are left empty, so the node's ruleset reads as before.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ActionFailed, CommandFailed, EnvironmentError } from "../../errors.ts";
import type { InstanceState } from "../../state/state-file.ts";
import type { LinkRules, NetworkFaults } from "../driver.ts";
import { dockerHost } from "./client.ts";
import { LABEL_INSTANCE, LABEL_PROJECT } from "./labels.ts";
import { SHAPER_MARK, SHAPER_QUEUE, shaperLog, shapersOf, startShaper, stopShapers, type ShaperConfig } from "./shaper.ts";

const run = promisify(execFile);

interface Netns {
  pid: number;
  /** "<project>/<instance>/<node>": how its shaper is found again. */
  owner: string;
}

/** The node's init process on the host (its network namespace), or undefined when the node is down. */
async function netnsOf(state: InstanceState, node: string): Promise<Netns | undefined> {
  const id = state.nodes[node]?.container;
  if (!id) throw new ActionFailed(`unknown node ${node} (nodes: ${Object.keys(state.nodes).join(", ")})`);
  const { client, local, endpoint } = await dockerHost();
  // The node's namespace is entered from this machine: an engine elsewhere has its processes elsewhere.
  if (!local) throw new EnvironmentError(`network faults need the Docker engine on this machine (they are applied in each node's network namespace from the host); the engine at ${endpoint.uri} (from ${endpoint.source}) is not`);
  const info = await client.getContainer(id).inspect();
  if (!info.State.Running || !info.State.Pid) return undefined;
  return { pid: info.State.Pid, owner: shaperOwner(info.Config.Labels ?? {}, node) };
}

export function shaperOwner(labels: Record<string, string>, node: string): string {
  return `${labels[LABEL_PROJECT] ?? "?"}/${labels[LABEL_INSTANCE] ?? "?"}/${node}`;
}

/** Runs a shell script in the node's network namespace with the host's tools. */
async function inNetns(node: string, ns: Netns, what: string, script: string): Promise<string> {
  try {
    const r = await run("nsenter", ["-t", String(ns.pid), "-n", "--", "sh", "-c", script], { timeout: 30_000 });
    return r.stdout;
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === "ENOENT") throw new EnvironmentError("network faults need nsenter on the host (util-linux)");
    throw new CommandFailed({ node, command: `${what} (host, in the node's network namespace)`, exitCode: typeof e.code === "number" ? e.code : -1, outputTail: `${e.stdout ?? ""}${e.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n") });
  }
}

const IPT = "iptables -w 5";

/** Removes Galley's chains (and empty tables iptables-nft made for them); safe when there are none. */
export const CLEAR_SCRIPT = `
command -v iptables >/dev/null || { echo "iptables is missing on the host" >&2; exit 127; }
for spec in "raw PREROUTING GALLEY-DROP" "raw OUTPUT GALLEY-DROP" "mangle POSTROUTING GALLEY-SHAPE"; do
  set -- $spec
  while ${IPT} -t $1 -D $2 -j $3 2>/dev/null; do :; done
  ${IPT} -t $1 -F $3 2>/dev/null && ${IPT} -t $1 -X $3 || true
done
# A table with no rules left and default policies changes nothing: drop it, so the listing reads as before.
if iptables -V | grep -q nf_tables && command -v nft >/dev/null; then
  for t in raw mangle; do
    if [ -n "$(iptables-save -t $t 2>/dev/null)" ] && ! iptables-save -t $t | grep -q '^-A' && ! iptables-save -t $t | grep -q '^:[A-Z]* DROP'; then
      nft delete table ip $t 2>/dev/null || true
    fi
  done
fi
`;

/** The iptables commands that put `rules` in place (after CLEAR_SCRIPT). */
export function applyScript(rules: LinkRules): string {
  const lines: string[] = [];
  if (rules.dropFrom.length || rules.dropTo.length) {
    lines.push(`${IPT} -t raw -N GALLEY-DROP`);
    for (const ip of rules.dropFrom) lines.push(`${IPT} -t raw -A GALLEY-DROP -s ${ip} -j DROP`);
    for (const ip of rules.dropTo) lines.push(`${IPT} -t raw -A GALLEY-DROP -d ${ip} -j DROP`);
    lines.push(`${IPT} -t raw -I PREROUTING 1 -j GALLEY-DROP`, `${IPT} -t raw -I OUTPUT 1 -j GALLEY-DROP`);
  }
  if (rules.shape.length) {
    lines.push(`${IPT} -t mangle -N GALLEY-SHAPE`);
    for (const { to } of rules.shape) {
      lines.push(`${IPT} -t mangle -A GALLEY-SHAPE -d ${to} -m mark ! --mark ${SHAPER_MARK} -j NFQUEUE --queue-num ${SHAPER_QUEUE} --queue-bypass`);
    }
    lines.push(`${IPT} -t mangle -I POSTROUTING 1 -j GALLEY-SHAPE`);
  }
  return lines.join("\n");
}

/** The shaper's rules: netem's parameters per peer address. */
export function shaperConfig(rules: LinkRules, seed: number): ShaperConfig {
  return {
    seed,
    mark: SHAPER_MARK,
    rules: rules.shape.map(({ to, shape: s }) => ({
      to,
      delayMs: s.delayMs ?? 0,
      jitterMs: s.jitterMs ?? 0,
      loss: s.loss ?? 0,
      duplicate: s.duplicate ?? 0,
      reorder: s.reorder ?? 0,
      rateBps: (s.rateKbit ?? 0) * 1000,
    })),
  };
}

/** Stops the node's shaper (it releases every packet it holds) and returns what it said. */
async function stopShaperOf(owner: string): Promise<string> {
  const pids = shapersOf(owner);
  if (!pids.length) return "";
  await stopShapers(pids);
  const file = shaperLog(owner);
  let said = "";
  try {
    said = readFileSync(file, "utf8").trim();
  } catch {
    /* never wrote */
  }
  rmSync(file, { force: true });
  return said;
}

/** Stops every shaper of a project's instance (destroy), or of a project, or all (prune), and removes their logs. */
export async function stopShapersFor(ownerPrefix: string): Promise<void> {
  await stopShapers(shapersOf(ownerPrefix));
  const logs = path.dirname(shaperLog("x"));
  const prefix = path.basename(shaperLog(ownerPrefix)).replace(/\.log$/, "");
  for (const f of safeReaddir(logs)) if (f.startsWith(prefix) && f.endsWith(".log")) rmSync(path.join(logs, f), { force: true });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export const dockerNetworkFaults: NetworkFaults = {
  async apply(state, node, rules) {
    const ns = await netnsOf(state, node);
    // A node that is down has no network namespace: nothing to shape; the engine applies its rules
    // again when it starts.
    if (!ns) return;
    const said = await stopShaperOf(ns.owner);
    await inNetns(node, ns, "removing Galley's iptables chains", CLEAR_SCRIPT);
    if (rules.shape.length) {
      const seed = [...ns.owner].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
      const pid = startShaper(ns.pid, ns.owner, shaperConfig(rules, seed));
      await waitForShaper(node, ns.owner, pid);
    }
    const script = applyScript(rules);
    if (script) await inNetns(node, ns, "adding Galley's iptables rules", `set -e\n${script}`);
    return said;
  },

  async describe(state, node) {
    const ns = await netnsOf(state, node);
    if (!ns) return "(the node is down: it has no network namespace)";
    const out = await inNetns(node, ns, "reading the network state", [
      "echo '# ip -br address'; ip -br address 2>&1",
      "echo '# ip route'; ip route 2>&1",
      "echo '# iptables-save (raw, mangle, filter)'; for t in raw mangle filter; do iptables-save -c -t $t 2>&1; done",
      "echo '# Galley chains with packet counters'; iptables -w 5 -t raw -L GALLEY-DROP -n -v -x 2>/dev/null; iptables -w 5 -t mangle -L GALLEY-SHAPE -n -v -x 2>/dev/null; true",
      "echo '# tc qdisc'; tc qdisc show 2>&1 || true",
    ].join("\n"));
    const shapers = shapersOf(ns.owner);
    return `${out}# galley-netshaper\n${shapers.length ? shapers.map((p) => `pid ${p}: ${readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ")}`).join("\n") : "none"}\n`;
  },
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The shaper says "shaping N peer(s)" once its queue is bound; anything else within 5 s is a failure. */
async function waitForShaper(node: string, owner: string, pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    let said = "";
    try {
      said = readFileSync(shaperLog(owner), "utf8");
    } catch {
      /* not yet */
    }
    if (/^shaping /m.test(said)) return;
    const running = alive(pid);
    if (!running || Date.now() > deadline) {
      if (running) await stopShapers([pid]);
      throw new ActionFailed(`node ${node}: galley-netshaper did not start in the node's network namespace: ${said.trim() || "(no output)"}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
