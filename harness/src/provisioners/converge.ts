// The converge template: resolve artifacts on the host → upload provisioning, keys and artifacts to
// every node → run the node phase in parallel → run the cluster phase once. Each node's output goes to
// the instance log; a failure names the node and shows the last lines it printed.
import { ActionFailed } from "../errors.ts";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { deepMerge } from "../config/merge.ts";
import type { InstancePlan, NodePlan } from "../plan/plan.ts";
import { checkServices, serviceExports } from "../services/services.ts";
import type { InstanceState } from "../state/state-file.ts";
import type { Connection, ExecResult, Transport } from "../transports/transport.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { lineSplitter, tail } from "../util/lines.ts";
import { ensureInstanceKey } from "../util/ssh-key.ts";
import type { Progress } from "../util/ui.ts";
import type { Provisioner } from "./provisioner.ts";

export const REMOTE_DIR = "/var/lib/galley";

export async function converge(
  plan: InstancePlan,
  state: InstanceState,
  transport: Transport,
  provisioner: Provisioner,
  log: InstanceLog,
  progress: Progress,
): Promise<void> {
  if (Object.keys(plan.services).length) {
    progress("checking services");
    await checkServices(plan, state);
  }
  const exported = await serviceExports(plan, state);
  const key = ensureInstanceKey(plan.stateDir, plan.name);
  state.sshKey = key.privateKey;
  progress("artifacts");
  const artifacts = await Promise.all(Object.entries(plan.artifacts).map(([name, spec]) => resolveArtifact(name, spec)));
  // Service exports come last: they override every layer of attributes.
  const withExports = (node: NodePlan): NodePlan => ({ ...node, attributes: deepMerge(node.attributes, exported) });
  const peers = Object.fromEntries(plan.nodes.map((n) => [n.name, state.nodes[n.name]?.ip ?? ""]));
  const changes: Record<string, string[]> = {};
  let done = 0;
  progress(`provisioning ${plan.nodes.length} nodes`);

  const results = await Promise.allSettled(
    plan.nodes.map(async (node) => {
      const conn = await transport.connect(node.name, state);
      try {
        const must = async (script: string) => {
          const r = await conn.exec(script, { timeoutMs: 60_000 });
          if (r.exitCode !== 0) throw new ActionFailed(`node ${node.name}: \`${script}\` failed: ${tail(r.stderr + r.stdout, 5)}`);
        };
        // Artifacts too: one left by an earlier converge with another config must never be used silently.
        await must(`rm -rf ${REMOTE_DIR}/provision ${REMOTE_DIR}/ssh ${REMOTE_DIR}/artifacts && mkdir -p ${REMOTE_DIR}/artifacts`);
        await conn.upload(provisioner.source(plan), `${REMOTE_DIR}/provision`);
        await conn.upload(key.dir, `${REMOTE_DIR}/ssh`);
        for (const a of artifacts) await conn.upload(a.dir, `${REMOTE_DIR}/artifacts/${a.name}`);
        const env = provisioner.environment(plan, { node: withExports(node), ip: peers[node.name]!, peers }, REMOTE_DIR);
        const r = await run(conn, node.name, provisioner.runCommand(plan, REMOTE_DIR), env, plan.provisioner.timeoutMs, log);
        if (r.exitCode !== 0) throw failure(node.name, plan.provisioner.script, r, plan.provisioner.timeoutMs);
        const reported = await conn.exec(`cat ${REMOTE_DIR}/changes 2>/dev/null || true`);
        changes[node.name] = reported.stdout.split("\n").filter(Boolean);
        progress(`provisioned ${++done}/${plan.nodes.length} nodes`);
      } finally {
        await conn.close();
      }
    }),
  );
  state.changes = changes;
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failed.length) {
    throw new ActionFailed(failed.map((e) => e.message).join("\n\n") + `\n(full output: ${log.file})`);
  }

  const first = plan.nodes[0]!;
  const command = provisioner.clusterCommand(plan, REMOTE_DIR);
  if (!command) return;
  progress("cluster phase");
  const conn = await transport.connect(first.name, state);
  try {
    const env = {
      ...provisioner.environment(plan, { node: withExports(first), ip: peers[first.name]!, peers }, REMOTE_DIR),
      GALLEY_CHANGES: `${REMOTE_DIR}/cluster-changes`,
    };
    const r = await run(conn, `${first.name} cluster`, `: > ${REMOTE_DIR}/cluster-changes && ${command}`, env, plan.provisioner.timeoutMs, log);
    if (r.exitCode !== 0) throw failure(`${first.name} (cluster phase)`, plan.provisioner.clusterScript!, r, plan.provisioner.timeoutMs);
    const reported = await conn.exec(`cat ${REMOTE_DIR}/cluster-changes 2>/dev/null || true`);
    changes["(cluster)"] = reported.stdout.split("\n").filter(Boolean);
  } finally {
    await conn.close();
  }
}

async function run(conn: Connection, source: string, script: string, env: Record<string, string>, timeoutMs: number, log: InstanceLog): Promise<ExecResult> {
  log.write(source, `$ ${script}`);
  const lines = lineSplitter((l) => log.write(source, l));
  const r = await conn.exec(script, { env, timeoutMs, onOutput: (chunk) => lines.push(chunk) });
  lines.flush();
  log.write(source, `exit ${r.exitCode} after ${r.ms} ms`);
  return r;
}

function failure(node: string, script: string, r: ExecResult, timeoutMs: number): ActionFailed {
  const why = r.exitCode === 124 ? `timed out after ${Math.round(timeoutMs / 1000)} s` : `failed with exit code ${r.exitCode}`;
  return new ActionFailed(`node ${node}: ${script} ${why}; last output:\n${tail(r.stdout + "\n" + r.stderr, 15)}`);
}
