// The Puppet provisioner: `puppet apply` on every node (Debian's puppet-agent, installed with apt at the
// first converge unless the box has it), the node's attributes as external facts, and Puppet's own
// verdict: `--detailed-exitcodes` (2 = changes, 4/6 = failures) and one change line per resource event
// it logged, so the idempotence check names node and resource. A `cluster_manifest` is applied once on
// the first node after every node converged, like the shell provisioner's cluster script.
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { InstancePlan, ProvisionerPlan } from "../plan/plan.ts";
import { shellQuote } from "../transports/transport.ts";
import type { NodeFacts, NodeProvisioner } from "./provisioner.ts";

type PuppetPlan = Extract<ProvisionerPlan, { name: "puppet" }>;

function puppet(plan: InstancePlan): PuppetPlan {
  if (plan.provisioner.name !== "puppet") throw new Error(`${plan.name}: the puppet provisioner was given a ${plan.provisioner.name} plan`);
  return plan.provisioner;
}

/** Where a manifest lands in the uploaded folder: a file keeps its name, a folder becomes the folder. */
function remoteManifest(local: string, folder: string): string {
  return statSync(local).isDirectory() ? folder : `${folder}/${path.basename(local)}`;
}

export function factsFor(plan: InstancePlan, { node, ip, peers }: NodeFacts, remoteDir: string): Record<string, unknown> {
  return {
    ...node.attributes,
    galley_instance: plan.name,
    galley_node_name: node.name,
    galley_node_index: node.index,
    galley_node_ip: ip,
    galley_nodes: peers,
    galley_node_count: Object.keys(peers).length,
    galley_dir: remoteDir,
    galley_artifacts: Object.keys(plan.artifacts).sort(),
    galley_roles: node.roles ?? [],
  };
}

export class PuppetProvisioner implements NodeProvisioner {
  private sandbox?: string;

  /**
   * The folder uploaded to every node, assembled once per run under .galley/<instance>/puppet/ (as Test
   * Kitchen's sandbox): manifests/, cluster/, modules/<n>/ for each modulepath entry, and the wrapper
   * galley-apply.sh that installs puppet when missing and runs `puppet apply` (see wrapper()).
   */
  source(plan: InstancePlan): string {
    if (this.sandbox) return this.sandbox;
    const p = puppet(plan);
    const dir = path.join(plan.stateDir, "puppet");
    rmSync(dir, { recursive: true, force: true });
    const place = (local: string, folder: string) => {
      const to = path.join(dir, folder);
      if (statSync(local).isDirectory()) cpSync(local, to, { recursive: true });
      else cpSync(local, path.join(to, path.basename(local)));
    };
    place(p.manifest, "manifests");
    if (p.clusterManifest) place(p.clusterManifest, "cluster");
    p.modulepath.forEach((m, i) => cpSync(m, path.join(dir, "modules", String(i)), { recursive: true }));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, WRAPPER), wrapper(p), { mode: 0o755 });
    return (this.sandbox = dir);
  }

  environment(plan: InstancePlan, facts: NodeFacts, remoteDir: string): Record<string, string> {
    return {
      GALLEY_NODE_NAME: facts.node.name,
      GALLEY_DIR: remoteDir,
      GALLEY_CHANGES: `${remoteDir}/changes`,
      GALLEY_FACTS: JSON.stringify(factsFor(plan, facts, remoteDir)),
    };
  }

  runCommand(plan: InstancePlan, remoteDir: string): string {
    const p = puppet(plan);
    return `bash ${remoteDir}/provision/${WRAPPER} ${shellQuote(remoteManifest(p.manifest, `${remoteDir}/provision/manifests`))}`;
  }

  runName(plan: InstancePlan): string {
    return `puppet apply ${path.basename(puppet(plan).manifest)}`;
  }

  clusterCommand(plan: InstancePlan, remoteDir: string): string | undefined {
    const p = puppet(plan);
    if (!p.clusterManifest) return undefined;
    return `bash ${remoteDir}/provision/${WRAPPER} ${shellQuote(remoteManifest(p.clusterManifest, `${remoteDir}/provision/cluster`))}`;
  }

  clusterName(plan: InstancePlan): string {
    const m = puppet(plan).clusterManifest;
    return m ? `puppet apply ${path.basename(m)}` : "(no cluster manifest)";
  }
}

const WRAPPER = "galley-apply.sh";

/**
 * galley-apply.sh MANIFEST, run on a node with GALLEY_DIR, GALLEY_CHANGES, GALLEY_FACTS and
 * GALLEY_NODE_NAME: installs puppet when missing, writes the node's facts where `puppet apply` reads
 * external facts (--pluginfactdest), applies MANIFEST, appends one line per resource event to
 * $GALLEY_CHANGES, and exits 0 for Puppet's 0 and 2 (changes); otherwise it names the first resource
 * that failed (a "--- step" line) and exits with Puppet's code.
 */
export function wrapper(p: PuppetPlan): string {
  const modulepath = p.modulepath.map((_, i) => `$GALLEY_DIR/provision/modules/${i}`).join(":");
  const install = p.install
    ? `if ! command -v puppet >/dev/null; then
  echo "--- install puppet-agent"
  start=$(date +%s)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends puppet-agent; } > "$GALLEY_DIR/puppet-install.log" 2>&1; then
    tail -n 15 "$GALLEY_DIR/puppet-install.log" >&2
    echo "$GALLEY_NODE_NAME: cannot install Debian's puppet-agent (apt-get); bake it into the box or set provisioner.install: false" >&2
    exit 1
  fi
  # The agent daemon would ask a puppet server every 30 minutes: this node is run by puppet apply only.
  systemctl disable --now puppet.service >/dev/null 2>&1 || true
  echo "installed Debian's puppet-agent in $(( $(date +%s) - start )) s"
fi`
    : `command -v puppet >/dev/null || { echo "$GALLEY_NODE_NAME: no puppet on this node, and provisioner.install is false: bake Debian's puppet-agent into the box" >&2; exit 1; }`;
  const options = p.options.map(shellQuote).join(" ");
  return `#!/usr/bin/env bash
# Written by Galley (harness/src/provisioners/puppet.ts): puppet apply with Galley's facts and changes.
set -euo pipefail
manifest=$1
: > "$GALLEY_CHANGES"
${install}
mkdir -p "$GALLEY_DIR/facts.d"
printf '%s\\n' "$GALLEY_FACTS" > "$GALLEY_DIR/facts.d/galley.json"
log=$GALLEY_DIR/puppet-apply.log
set +e
puppet apply --detailed-exitcodes --color=false --pluginfactdest="$GALLEY_DIR/facts.d"${modulepath ? ` --modulepath="${modulepath}"` : ""} ${options} "$manifest" 2>&1 | tee "$log"
rc=\${PIPESTATUS[0]}
sed -n 's|^Notice: /Stage\\[[^]]*\\]/||p' "$log" >> "$GALLEY_CHANGES"
if { [ "$rc" = 2 ] || [ "$rc" = 6 ]; } && [ ! -s "$GALLEY_CHANGES" ]; then
  echo "puppet apply reported changes (exit code $rc) but logged no resource event" >> "$GALLEY_CHANGES"
fi
case "$rc" in 0|2) exit 0 ;; esac
failed=$(sed -n 's|^Error: /Stage\\[[^]]*\\]/\\([^:]*\\):.*|\\1|p' "$log" | head -n 1)
[ -z "$failed" ] || echo "--- $failed"
echo "$GALLEY_NODE_NAME: puppet apply $(basename "$manifest") failed with exit code $rc" >&2
exit "$rc"
`;
}
