// The inventory Galley writes for ansible-playbook, from the instance: every node with its address and
// attributes as host variables, a group per suite and per role, the instance's attributes and Galley's
// facts as variables of `all`. Connection variables follow the instance's transport: Ansible's docker
// connection (the container id) for docker-exec, SSH with the instance's key for ssh. Pure: the
// provisioner writes the result to .galley/<instance>/ansible/inventory.yml.
import { UserError } from "../../errors.ts";
import type { InstancePlan } from "../../plan/plan.ts";
import type { HostRunNode } from "../provisioner.ts";

export interface Inventory {
  all: {
    vars: Record<string, unknown>;
    hosts: Record<string, Record<string, unknown>>;
    children: Record<string, { hosts: Record<string, Record<string, never>> }>;
  };
}

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A group name Ansible accepts without warnings: letters, digits and underscores. */
export function groupName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}

export function inventoryFor(plan: InstancePlan, nodes: HostRunNode[], remoteDir: string): Inventory {
  for (const [where, attrs] of [["the instance", plan.attributes], ...nodes.map((n) => [`node ${n.node.name}`, n.node.attributes] as const)] as const) {
    for (const key of Object.keys(attrs)) {
      if (!VARIABLE.test(key)) {
        throw new UserError(`${plan.configFile}: attribute ${key} of ${where} cannot be an Ansible variable (use letters, digits and underscores)`);
      }
    }
  }
  const hosts: Inventory["all"]["hosts"] = {};
  const groups: Inventory["all"]["children"] = {};
  const join = (group: string, host: string) => ((groups[groupName(group)] ??= { hosts: {} }).hosts[host] = {});
  for (const n of nodes) {
    hosts[n.node.name] = {
      ...n.node.attributes,
      ...connectionVars(plan, n),
      galley_node_name: n.node.name,
      galley_node_index: n.node.index,
      galley_node_ip: n.ip,
      galley_roles: n.node.roles ?? [],
    };
    join(plan.suite, n.node.name);
    for (const role of n.node.roles ?? []) join(role, n.node.name);
  }
  return {
    all: {
      vars: {
        ...plan.attributes,
        // Defaults a playbook's own group_vars may override.
        ansible_python_interpreter: "auto_silent",
        ansible_pipelining: true,
        galley_instance: plan.name,
        galley_dir: remoteDir,
        galley_nodes: Object.fromEntries(nodes.map((n) => [n.node.name, n.ip])),
        galley_node_count: nodes.length,
        galley_artifacts: Object.keys(plan.artifacts).sort(),
      },
      hosts,
      children: groups,
    },
  };
}

function connectionVars(plan: InstancePlan, n: HostRunNode): Record<string, unknown> {
  const a = n.address;
  if (plan.transport.name === "docker-exec") {
    if (!a.container) throw new UserError(`node ${n.node.name} of ${plan.name} has no container (is the instance created?)`);
    return { ansible_connection: "community.docker.docker", ansible_host: a.container, ansible_user: "root" };
  }
  if (!a.keyFile) throw new UserError(`node ${n.node.name} of ${plan.name} has no SSH key (is the instance created?)`);
  return {
    ansible_connection: "ssh",
    ansible_host: a.host ?? a.ip,
    ansible_port: a.port ?? 22,
    ansible_user: a.user ?? "root",
    ansible_ssh_private_key_file: a.keyFile,
    ansible_host_key_checking: false,
    // One master connection per node for the run (a new SSH handshake per task is 3× slower). The
    // provisioner closes the masters when ansible-playbook ends; ControlPersist only covers a killed run.
    ansible_ssh_args: "-o ControlMaster=auto -o ControlPersist=10s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
  };
}
