// Provisioners supply what to upload and which commands to run; the converge template (converge.ts)
// owns the order, uploads, logging and error wrapping, as Test Kitchen's provisioner base does.
// Two shapes: a node provisioner (shell, Puppet) gives command strings run on each node through the
// transport; a host provisioner (Ansible) runs one program on the host against every node at once and
// says what changed on which node. Both report changes per node, so the runner and its idempotence
// check are the same for every provisioner.
import type { BoxAddress } from "../contracts/attach.ts";
import type { NodePlan, InstancePlan } from "../plan/plan.ts";
import type { Check } from "../util/check.ts";
import type { InstanceLog } from "../util/instance-log.ts";
import type { Progress } from "../util/ui.ts";

export interface NodeFacts {
  node: NodePlan;
  ip: string;
  /** Every node of the instance, name → IP. */
  peers: Record<string, string>;
}

/** What a provisioner needs on the machine Galley runs on, for `galley doctor` and `galley setup`. */
interface HostNeeds {
  prerequisites?(plan: InstancePlan): Check[];
}

export interface NodeProvisioner extends HostNeeds {
  /** Local folder uploaded to <remoteDir>/provision on every node. */
  source(plan: InstancePlan): string;
  /** Other local folders uploaded to every node (`remote` is relative to remoteDir), such as a helper library. */
  uploads?(plan: InstancePlan): { local: string; remote: string }[];
  /** Environment for the node's run: node facts and flattened attributes. */
  environment(plan: InstancePlan, facts: NodeFacts, remoteDir: string): Record<string, string>;
  /** Command run on every node, in parallel. It reports changes by appending lines to $GALLEY_CHANGES. */
  runCommand(plan: InstancePlan, remoteDir: string): string;
  /** What the run is called in errors ("provision.sh", "puppet apply site.pp"). */
  runName(plan: InstancePlan): string;
  /** Command run once on the first node after every node converged, if any. */
  clusterCommand(plan: InstancePlan, remoteDir: string): string | undefined;
  /** What the cluster phase is called in errors. */
  clusterName(plan: InstancePlan): string;
}

/** One node as a host provisioner sees it: how to reach it and what it is. */
export interface HostRunNode extends NodeFacts {
  address: BoxAddress;
}

export interface HostRunContext {
  plan: InstancePlan;
  /** In plan order; attributes include the services' exports. */
  nodes: HostRunNode[];
  /** Where keys and artifacts are on every node (uploaded before the run). */
  remoteDir: string;
  log: InstanceLog;
  progress: Progress;
  /** One line for the console (a play recap per node). */
  say(text: string): void;
}

export interface HostProvisioner extends HostNeeds {
  readonly runsOnHost: true;
  /**
   * Converges every node at once from the host. Resolves with what changed, per node (each line names
   * the task); throws a CommandFailed (or NodesFailed) naming the node and task that failed.
   */
  run(ctx: HostRunContext): Promise<Record<string, string[]>>;
}

export type Provisioner = NodeProvisioner | HostProvisioner;

export function runsOnHost(p: Provisioner): p is HostProvisioner {
  return "runsOnHost" in p && p.runsOnHost;
}
