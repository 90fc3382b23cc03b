// Pure: configuration → the instances it defines (suite × platform), each a cluster of nodes with
// merged attributes. No I/O beyond finding box folders, so `galley list` is instant.
import path from "node:path";
import { findBox } from "../boxes/definition.ts";
import { UserError } from "../errors.ts";
import type { LoadedConfig } from "../config/load.ts";
import { deepMerge, type Attrs } from "../config/merge.ts";
import { durationMs, type ArtifactSpec, type DockerDriverConfig, type GalleyConfig, type ProvisionerConfig, type ServiceSpec, type SuiteConfig, type VagrantDriverConfig } from "../config/schema.ts";

/** Nodes of a suite that gives a count are named infra0, infra1, … unless it sets node_prefix. */
export const DEFAULT_NODE_PREFIX = "infra";

export interface NodePlan {
  name: string;
  index: number;
  attributes: Attrs;
  /** What the config says the node is for (suites[].nodes[].roles). */
  roles?: string[];
}

/** The provisioner of an instance; every path is absolute. */
export type ProvisionerPlan =
  | { name: "shell"; path: string; script: string; clusterScript?: string; timeoutMs: number }
  | { name: "ansible"; playbook: string; requirements?: string; extraVars: Attrs; options: string[]; timeoutMs: number }
  | { name: "puppet"; manifest: string; clusterManifest?: string; modulepath: string[]; install: boolean; options: string[]; timeoutMs: number };

export interface InstancePlan {
  name: string;
  suite: string;
  platform: string;
  configFile: string;
  root: string;
  /** .galley/<instance>/: state, log, keys, artifacts. */
  stateDir: string;
  /** Folder of box.yml ("" when the platform names an existing Vagrant box instead). */
  boxDir: string;
  /** An existing Vagrant box the platform names (vagrant driver). */
  vagrantBox?: string;
  /** The driver's settings; each driver reads its own keys. */
  driver: Omit<Partial<DockerDriverConfig> & Partial<VagrantDriverConfig>, "name"> & { name: GalleyConfig["driver"]["name"]; bootTimeoutMs: number };
  transport: { name: "docker-exec" | "ssh"; commandTimeoutMs: number };
  provisioner: ProvisionerPlan;
  verifier: {
    suites: string[];
    timeoutMs: number;
    reporter: string;
    chaos?: string[];
    /** `snapshot`: each destructive suite starts from the snapshot taken right after converge. */
    isolateDestructive?: "snapshot";
    /** Succeeds on every node once a restored cluster is ready (beyond systemd and its services). */
    restoreReady?: string;
  };
  artifacts: Record<string, ArtifactSpec & { base: string }>;
  /** Service containers of the instance; `script` is absolute. */
  services: Record<string, ServiceSpec & { networks: string[] }>;
  /** Networks beside the node network (`nodes`) that services ask for. */
  extraNetworks: string[];
  environment?: string;
  attributes: Attrs;
  nodes: NodePlan[];
}

export function planInstances({ config: c, root, file }: LoadedConfig): InstancePlan[] {
  const plans: InstancePlan[] = [];
  for (const suite of c.suites) {
    for (const platform of c.platforms) {
      if (suite.platforms && !suite.platforms.includes(platform.name)) continue;
      if (suite.excludes?.includes(platform.name)) continue;
      const name = `${suite.name}-${platform.name}`;
      const env = suite.environment ? c.environments?.[suite.environment] : undefined;
      const attributes = deepMerge(c.attributes, platform.attributes, env?.attributes, suite.attributes);
      const services: InstancePlan["services"] = {};
      for (const [k, v] of Object.entries({ ...c.services, ...env?.services, ...suite.services })) {
        // The node network first: a service's fixed address is taken there.
        const networks = [...new Set(v.networks ?? ["nodes"])].sort((a, b) => Number(b === "nodes") - Number(a === "nodes"));
        services[k] = { ...v, script: path.resolve(root, v.script), networks };
      }
      const extraNetworks = [...new Set(Object.values(services).flatMap((s) => s.networks))].filter((n) => n !== "nodes").sort();
      const nodeList = Array.isArray(suite.nodes)
        ? suite.nodes
        : Array.from({ length: suite.nodes }, (_, i) => ({ name: `${suite.node_prefix ?? DEFAULT_NODE_PREFIX}${i}`, attributes: undefined }));
      // Artifact paths resolve from the config folder, whatever layer defined them.
      const artifacts: InstancePlan["artifacts"] = {};
      for (const [k, v] of Object.entries({ ...c.artifacts, ...platform.artifacts, ...suite.artifacts })) {
        artifacts[k] = { ...v, base: root };
      }
      plans.push({
        name,
        suite: suite.name,
        platform: platform.name,
        configFile: file,
        root,
        stateDir: path.join(root, ".galley", name),
        boxDir: platform.box ? (findBox(platform.box, root) ?? path.resolve(root, platform.box)) : "",
        vagrantBox: platform.vagrant_box,
        driver: { ...c.driver, bootTimeoutMs: durationMs(c.driver.boot_timeout, 60_000) },
        transport: {
          name: c.transport?.name ?? "docker-exec",
          commandTimeoutMs: durationMs(c.transport?.command_timeout, 600_000),
        },
        provisioner: provisionerPlan(c.provisioner, suite, root),
        verifier: {
          suites: [suite.verifier?.suites ?? c.verifier.suites].flat().map((s) => path.resolve(root, s)),
          timeoutMs: durationMs(c.verifier.timeout, 180_000),
          reporter: c.verifier.reporter ?? "spec",
          ...(suite.verifier?.chaos ? { chaos: [suite.verifier.chaos].flat().map((s) => path.resolve(root, s)) } : {}),
          ...((suite.verifier?.isolate_destructive ?? c.verifier.isolate_destructive ?? "none") === "snapshot" ? { isolateDestructive: "snapshot" as const } : {}),
          ...((suite.verifier?.restore_ready ?? c.verifier.restore_ready) ? { restoreReady: suite.verifier?.restore_ready ?? c.verifier.restore_ready } : {}),
        },
        artifacts,
        services,
        extraNetworks,
        environment: suite.environment,
        attributes,
        nodes: nodeList.map((n, index) => ({
          name: n.name,
          index,
          attributes: deepMerge(attributes, n.attributes),
          ...("roles" in n && n.roles ? { roles: n.roles } : {}),
        })),
      });
    }
  }
  return plans;
}

function provisionerPlan(p: ProvisionerConfig, suite: SuiteConfig, root: string): ProvisionerPlan {
  const timeoutMs = durationMs(p.timeout as number | string | undefined, 600_000);
  const abs = (rel: string) => path.resolve(root, rel);
  switch (p.name) {
    case "shell":
      return {
        name: "shell",
        path: abs(suite.provisioner?.path ?? p.path),
        script: suite.provisioner?.script ?? p.script ?? "provision.sh",
        clusterScript: suite.provisioner?.cluster_script ?? p.cluster_script,
        timeoutMs,
      };
    case "ansible":
      return {
        name: "ansible",
        playbook: abs(p.playbook),
        ...(p.requirements ? { requirements: abs(p.requirements) } : {}),
        extraVars: p.extra_vars ?? {},
        options: p.options ?? [],
        timeoutMs,
      };
    case "puppet":
      return {
        name: "puppet",
        manifest: abs(p.manifest),
        ...(p.cluster_manifest ? { clusterManifest: abs(p.cluster_manifest) } : {}),
        modulepath: [p.modulepath ?? []].flat().map(abs),
        install: p.install ?? true,
        options: p.options ?? [],
        timeoutMs,
      };
    default:
      // chef: the schema refuses it; a plan never holds it.
      throw new UserError(`the ${p.name} provisioner is not available`);
  }
}

/**
 * `all`, an exact name, or a regular expression (Test Kitchen's rule). `extra` (the matrix's cells) are
 * reachable by name or pattern, but not part of `all` unless `allIncludesExtra` (destroy cleans them too).
 */
export function selectInstances(plans: InstancePlan[], pattern = "all", extra: InstancePlan[] = [], allIncludesExtra = false): InstancePlan[] {
  if (pattern === "all") return allIncludesExtra ? [...plans, ...extra] : plans;
  plans = [...plans, ...extra];
  const exact = plans.filter((p) => p.name === pattern);
  if (exact.length) return exact;
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    re = /$^/;
  }
  const found = plans.filter((p) => re.test(p.name));
  if (!found.length) {
    throw new UserError(`no instance matches ${JSON.stringify(pattern)} (instances: ${plans.map((p) => p.name).join(", ")})`);
  }
  return found;
}
