// Provisioners supply what to upload and which commands to run; the converge template (converge.ts)
// owns the order, uploads, logging and error wrapping, as Test Kitchen's provisioner base does.
import type { NodePlan, InstancePlan } from "../plan/plan.ts";

export interface NodeFacts {
  node: NodePlan;
  ip: string;
  /** Every node of the instance, name → IP. */
  peers: Record<string, string>;
}

export interface Provisioner {
  /** Local folder uploaded to <remoteDir>/provision on every node. */
  source(plan: InstancePlan): string;
  /** Other local folders uploaded to every node (`remote` is relative to remoteDir), such as a helper library. */
  uploads?(plan: InstancePlan): { local: string; remote: string }[];
  /** Environment for the node's run: node facts and flattened attributes. */
  environment(plan: InstancePlan, facts: NodeFacts, remoteDir: string): Record<string, string>;
  /** Command run on every node, in parallel. */
  runCommand(plan: InstancePlan, remoteDir: string): string;
  /** Command run once on the first node after every node converged, if any. */
  clusterCommand(plan: InstancePlan, remoteDir: string): string | undefined;
}
