// The converge template: check services and take their exports → resolve artifacts on the host →
// upload provisioning, keys and artifacts to every node → run the node phase in parallel → run the
// cluster phase once. A host provisioner (Ansible) gets the nodes with keys and artifacts uploaded and
// runs itself against all of them at once instead of the two phases. Each node's output goes to the
// instance log; a failure is a CommandFailed naming the node, the script, the step it was in and what it
// printed last. Converge writes no state: it records what it learned (exports as soon as they exist,
// then changes and artifact versions) through the runner.
import type { AttachedArtifact, BoxAddress } from "../contracts/attach.ts";
import { resolveArtifact } from "../artifacts/resolve.ts";
import { deepMerge } from "../config/merge.ts";
import type { Driver } from "../drivers/driver.ts";
import { ActionFailed, CommandFailed, commandFailure, failureOf } from "../errors.ts";
import type { InstancePlan, NodePlan } from "../plan/plan.ts";
import { checkServices, nestExports, serviceAddresses, serviceExports } from "../services/services.ts";
import type { InstanceState } from "../state/state-file.ts";
import type { Connection, ExecResult, Transport } from "../transports/transport.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import { lineSplitter } from "../util/lines.ts";
import { treeStamp } from "../util/tree-stamp.ts";
import { line, type Progress } from "../util/ui.ts";
import { runsOnHost, type HostProvisioner, type Provisioner } from "./provisioner.ts";
import { unitEvidence, unitsNamedIn } from "./unit-evidence.ts";

export const REMOTE_DIR = "/var/lib/galley";

/** What a converge learned, for the runner to store. */
export interface ConvergeFacts {
  /** Attributes the services exported (dotted path → value), including those already known. */
  exports?: Record<string, string>;
  /** Per node (and "(cluster)"): what each step reported it changed. */
  changes?: Record<string, string[]>;
  artifacts?: Record<string, AttachedArtifact>;
}

export interface ConvergeContext {
  plan: InstancePlan;
  /** Read only: addresses of nodes and services, exports known from an earlier converge. */
  state: InstanceState;
  transport: Transport;
  /** The driver's control transport, for services. */
  controlTransport: Transport;
  driver: Driver;
  provisioner: Provisioner;
  /** The folder with the instance's key pair (id_rsa, id_rsa.pub), uploaded to every node. */
  sshKeyDir: string;
  address(node: string): BoxAddress;
  log: InstanceLog;
  progress: Progress;
  record(facts: ConvergeFacts): void;
}

export async function converge(ctx: ConvergeContext): Promise<void> {
  const { plan, state, transport, provisioner, log, progress } = ctx;
  if (Object.keys(plan.services).length) {
    progress("checking services");
    await checkServices(plan, state, ctx.driver, ctx.controlTransport);
  }
  const exports = await serviceExports(plan, state.exports ?? {}, serviceAddresses(state), ctx.controlTransport);
  ctx.record({ exports });
  const exported = nestExports(exports);
  progress("artifacts");
  const artifacts = await Promise.all(Object.entries(plan.artifacts).map(([name, spec]) => resolveArtifact(name, spec)));
  ctx.record({ artifacts: Object.fromEntries(artifacts.map((a) => [a.name, { version: a.version, description: a.description }])) });
  // Service exports come last: they override every layer of attributes.
  const withExports = (node: NodePlan): NodePlan => ({ ...node, attributes: deepMerge(node.attributes, exported) });
  const peers = Object.fromEntries(plan.nodes.map((n) => [n.name, ctx.address(n.name).ip]));
  if (runsOnHost(provisioner)) return convergeFromHost(ctx, provisioner, artifacts, withExports, peers);
  const changes: Record<string, string[]> = {};
  let done = 0;
  progress(`provisioning ${plan.nodes.length} nodes`);
  const { timeoutMs } = plan.provisioner;

  const results = await Promise.allSettled(
    plan.nodes.map(async (node) => {
      const conn = await transport.connect(ctx.address(node.name));
      try {
        await prepareNode(conn, node.name, ctx.sshKeyDir, artifacts, provisioner.source(plan), provisioner.uploads?.(plan) ?? []);
        const env = provisioner.environment(plan, { node: withExports(node), ip: peers[node.name]!, peers }, REMOTE_DIR);
        const r = await run(conn, node.name, provisioner.runCommand(plan, REMOTE_DIR), env, timeoutMs, log);
        if (r.exitCode !== 0) throw await failure(conn, node.name, node.name, provisioner.runName(plan), r, timeoutMs);
        const reported = await conn.exec(`cat ${REMOTE_DIR}/changes 2>/dev/null || true`);
        changes[node.name] = reported.stdout.split("\n").filter(Boolean);
        progress(`provisioned ${++done}/${plan.nodes.length} nodes`);
      } finally {
        await conn.close();
      }
    }),
  );
  // In plan order, whichever node finished first.
  const inOrder = (c: Record<string, string[]>) => Object.fromEntries(plan.nodes.flatMap((n) => (c[n.name] ? [[n.name, c[n.name]!]] : [])));
  ctx.record({ changes: inOrder(changes) });
  throwFailures(results, log.file);

  const first = plan.nodes[0]!;
  const command = provisioner.clusterCommand(plan, REMOTE_DIR);
  if (!command) return;
  progress("cluster phase");
  const conn = await transport.connect(ctx.address(first.name));
  try {
    const env = {
      ...provisioner.environment(plan, { node: withExports(first), ip: peers[first.name]!, peers }, REMOTE_DIR),
      GALLEY_CHANGES: `${REMOTE_DIR}/cluster-changes`,
    };
    const r = await run(conn, `${first.name} cluster`, `: > ${REMOTE_DIR}/cluster-changes && ${command}`, env, timeoutMs, log);
    if (r.exitCode !== 0) throw await failure(conn, first.name, `${first.name} (cluster phase)`, provisioner.clusterName(plan), r, timeoutMs);
    const reported = await conn.exec(`cat ${REMOTE_DIR}/cluster-changes 2>/dev/null || true`);
    ctx.record({ changes: { ...inOrder(changes), "(cluster)": reported.stdout.split("\n").filter(Boolean) } });
  } finally {
    await conn.close();
  }
}

type Resolved = Awaited<ReturnType<typeof resolveArtifact>>;

/**
 * What every provisioner finds on a node: the instance's key pair, the artifacts and (for a node
 * provisioner) its folder and other uploads (the shell provisioner's helper library). Artifacts too
 * are replaced: one left by an earlier converge with another config must never be used silently.
 * A node that already holds exactly these folders (same stamp: paths, sizes, modes and times, as the
 * last upload wrote it on the node) keeps them: the idempotence converge re-uploads nothing.
 */
async function prepareNode(
  conn: Connection,
  node: string,
  sshKeyDir: string,
  artifacts: Resolved[],
  source?: string,
  uploads: { local: string; remote: string }[] = [],
): Promise<void> {
  const trees = [
    ...(source ? [{ local: source, remote: "provision" }] : []),
    ...uploads,
    { local: sshKeyDir, remote: "ssh" },
    ...artifacts.map((a) => ({ local: a.dir, remote: `artifacts/${a.name}` })),
  ];
  const stamp = treeStamp(trees.map((t) => ({ label: t.remote, dir: t.local })));
  const stale = ["provision", "ssh", "artifacts", ...uploads.map((u) => u.remote)].map((d) => `${REMOTE_DIR}/${d}`).join(" ");
  const clean = `if [ "$(cat ${STAMP} 2>/dev/null)" = ${stamp} ]; then echo unchanged; else rm -rf ${STAMP} ${stale} && mkdir -p ${REMOTE_DIR}/artifacts; fi`;
  const r = await conn.exec(clean, { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new CommandFailed(commandFailure(node, clean, r));
  if (r.stdout.trim() === "unchanged") return;
  for (const t of trees) await conn.upload(t.local, `${REMOTE_DIR}/${t.remote}`);
  const stamped = `echo ${stamp} > ${STAMP}`;
  const w = await conn.exec(stamped, { timeoutMs: 60_000 });
  if (w.exitCode !== 0) throw new CommandFailed(commandFailure(node, stamped, w));
}

/** On each node: the stamp of the folders the last converge uploaded (see prepareNode). */
const STAMP = `${REMOTE_DIR}/uploaded.stamp`;

/** A host provisioner: keys and artifacts onto every node, then one run from the host for all of them. */
async function convergeFromHost(
  ctx: ConvergeContext,
  provisioner: HostProvisioner,
  artifacts: Resolved[],
  withExports: (n: NodePlan) => NodePlan,
  peers: Record<string, string>,
): Promise<void> {
  const { plan, log, progress } = ctx;
  progress(`preparing ${plan.nodes.length} nodes`);
  const prepared = await Promise.allSettled(
    plan.nodes.map(async (node) => {
      const conn = await ctx.transport.connect(ctx.address(node.name));
      try {
        await prepareNode(conn, node.name, ctx.sshKeyDir, artifacts);
      } finally {
        await conn.close();
      }
    }),
  );
  throwFailures(prepared, log.file);
  const changes = await provisioner.run({
    plan,
    nodes: plan.nodes.map((n) => ({ node: withExports(n), ip: peers[n.name]!, peers, address: ctx.address(n.name) })),
    remoteDir: REMOTE_DIR,
    log,
    progress,
    say: (text) => line(`  ${text}`),
  });
  ctx.record({ changes });
}

function throwFailures(results: PromiseSettledResult<unknown>[], logFile: string): void {
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length) throw new NodesFailed(failed, logFile);
}

/** Several nodes failed: each failure in full, and the first one's data for reports. */
export class NodesFailed extends ActionFailed {
  constructor(readonly failures: Error[], logFile: string) {
    super(failures.map((e) => e.message).join("\n\n") + `\n(full output: ${logFile})`, { cause: failures[0] });
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

/**
 * The provisioning's own step markers ("--- 40-etcd") say which step was running when it failed; units
 * its last output names that are not running come with their state and journal.
 */
async function failure(conn: Connection, node: string, where: string, script: string, r: ExecResult, timeoutMs: number): Promise<CommandFailed> {
  const steps = [...r.stdout.matchAll(/^--- (\S.*)$/gm)];
  const f = commandFailure(where, script, r, { timeoutMs, step: steps.at(-1)?.[1] });
  const units = await unitEvidence(conn, node, unitsNamedIn(f.outputTail));
  return new CommandFailed(units.length ? { ...f, units } : f);
}

