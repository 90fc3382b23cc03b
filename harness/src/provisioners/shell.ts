// The shell provisioner: runs a folder's script with the node's attributes as environment variables,
// beside Galley's helper library ($GALLEY_LIB).
// Attributes flatten to ATTR_<PATH> (etcd.enable_v2 → ATTR_ETCD_ENABLE_V2); lists join with commas.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { flattenAttributes } from "../config/attribute-env.ts";
import type { InstancePlan, ProvisionerPlan } from "../plan/plan.ts";
import type { NodeFacts, NodeProvisioner } from "./provisioner.ts";

function shell(plan: InstancePlan): Extract<ProvisionerPlan, { name: "shell" }> {
  if (plan.provisioner.name !== "shell") throw new Error(`${plan.name}: the shell provisioner was given a ${plan.provisioner.name} plan`);
  return plan.provisioner;
}

/** Galley's helper library for shell provisionings (harness/lib/galley.sh), uploaded to every node. */
export const HELPER_LIBRARY = fileURLToPath(new URL("../../lib", import.meta.url));

export class ShellProvisioner implements NodeProvisioner {
  source(plan: InstancePlan): string {
    return shell(plan).path;
  }

  uploads(): { local: string; remote: string }[] {
    return [{ local: HELPER_LIBRARY, remote: "lib" }];
  }

  environment(plan: InstancePlan, { node, ip, peers }: NodeFacts, remoteDir: string): Record<string, string> {
    return {
      ...flattenAttributes(node.attributes),
      GALLEY_INSTANCE: plan.name,
      GALLEY_NODE_NAME: node.name,
      GALLEY_NODE_INDEX: String(node.index),
      GALLEY_NODE_IP: ip,
      GALLEY_NODE_COUNT: String(plan.nodes.length),
      GALLEY_NODES: Object.entries(peers).map(([n, a]) => `${n}=${a}`).join(" "),
      GALLEY_DIR: remoteDir,
      GALLEY_LIB: `${remoteDir}/lib/galley.sh`,
      GALLEY_CHANGES: `${remoteDir}/changes`,
      // The artifacts this instance configured (each in $GALLEY_DIR/artifacts/<name>/): a provisioning
      // must use them, and fail naming the artifact when one lacks what it needs.
      GALLEY_ARTIFACTS: Object.keys(plan.artifacts).sort().join(" "),
    };
  }

  runCommand(plan: InstancePlan, remoteDir: string): string {
    return `: > ${remoteDir}/changes && bash ${path.posix.join(remoteDir, "provision", shell(plan).script)}`;
  }

  runName(plan: InstancePlan): string {
    return shell(plan).script;
  }

  clusterCommand(plan: InstancePlan, remoteDir: string): string | undefined {
    const script = shell(plan).clusterScript;
    return script ? `bash ${path.posix.join(remoteDir, "provision", script)}` : undefined;
  }

  clusterName(plan: InstancePlan): string {
    return shell(plan).clusterScript ?? "(no cluster script)";
  }
}
