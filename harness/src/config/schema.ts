// galley.yml as written. Strict objects: an unknown key is an error (a typo must not be silently ignored).
import { z } from "zod";

export const Duration = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, { message: "expected a duration like 500ms, 90s or 2m" }),
]);

const Attributes = z.record(z.string(), z.unknown());

/** Plugin sections that also take the shorthand string (json-schema.ts writes both forms). */
export const SHORTHAND = new WeakSet<z.ZodType>();

// `driver: docker` is shorthand for `driver: { name: docker }`, as in Test Kitchen.
const plugin = <T extends z.ZodRawShape>(shape: T) => {
  const schema = z.preprocess((v) => (typeof v === "string" ? { name: v } : v), z.strictObject(shape));
  SHORTHAND.add(schema);
  return schema;
};

const DockerDriverConfig = z.strictObject({
  name: z.literal("docker"),
  boot_timeout: Duration.optional(),
  /** auto: use --privileged where the host allows it, else the capability recipe. */
  privileged: z.union([z.literal("auto"), z.boolean()]).optional(),
});

/** Real VMs through one generated multi-machine Vagrantfile per instance (drivers/vagrant/). */
const VagrantDriverConfig = z.strictObject({
  name: z.literal("vagrant"),
  /** libvirt (tested); virtualbox goes through the same Vagrantfile, for boxes named with vagrant_box. */
  provider: z.enum(["libvirt", "virtualbox"]).optional(),
  /** MB of RAM per node (default 512). */
  memory: z.number().int().min(128).optional(),
  cpus: z.number().int().min(1).optional(),
  boot_timeout: Duration.optional(),
});

export const DriverConfig = z.preprocess(
  (v) => (typeof v === "string" ? { name: v } : v),
  z.discriminatedUnion("name", [DockerDriverConfig, VagrantDriverConfig]),
);
SHORTHAND.add(DriverConfig);

export const TransportConfig = plugin({
  name: z.enum(["docker-exec", "ssh"]),
  command_timeout: Duration.optional(),
});

const ShellProvisionerConfig = z.strictObject({
  name: z.literal("shell"),
  /** Folder uploaded to every node; its `script` runs there with the node's attributes. */
  path: z.string(),
  script: z.string().optional(),
  /** Runs once on the first node after every node converged (things that span nodes). */
  cluster_script: z.string().optional(),
  timeout: Duration.optional(),
});

/** ansible-playbook on the host, against an inventory Galley writes from the instance. */
const AnsibleProvisionerConfig = z.strictObject({
  name: z.literal("ansible"),
  /** The playbook, relative to the config file; it runs from its own folder (its ansible.cfg, roles/). */
  playbook: z.string(),
  /** roles and collections to install first (ansible-galaxy install -r), relative to the config file. */
  requirements: z.string().optional(),
  /** Extra vars (-e): they beat every other variable, node attributes included. */
  extra_vars: Attributes.optional(),
  /** More ansible-playbook arguments (--diff, -v, --tags x). */
  options: z.array(z.string()).optional(),
  timeout: Duration.optional(),
});

/** puppet apply on every node, with the node's attributes as facts. */
const PuppetProvisionerConfig = z.strictObject({
  name: z.literal("puppet"),
  /** A manifest file or folder, relative to the config file. */
  manifest: z.string(),
  /** Applied once on the first node after every node converged (things that span nodes). */
  cluster_manifest: z.string().optional(),
  /** Module folders, relative to the config file. */
  modulepath: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  /** When a node has no puppet: install Debian's puppet-agent with apt (default), or fail saying so. */
  install: z.boolean().optional(),
  /** More puppet apply arguments (--debug, --strict=error, --noop is refused). */
  options: z.array(z.string()).optional(),
  timeout: Duration.optional(),
});

/**
 * Reserved: chef-solo / cinc-client with a cookbook path. Neither is in Debian 12 and their gems cannot
 * be fetched here, so no untested provisioner ships; the name is taken so a config says it clearly.
 */
const ChefProvisionerConfig = z.object({ name: z.literal("chef") }).catchall(z.unknown()).superRefine((_, ctx) => {
  ctx.addIssue({
    code: "custom",
    path: ["name"],
    message: "the chef provisioner is reserved but not available: chef-solo and cinc-client are not in Debian 12 and their gems cannot be fetched here (see README: Provisioners)",
  });
});

export const PROVISIONER_NAMES = ["shell", "ansible", "puppet", "chef"] as const;

// `provisioner: ansible` alone is not enough (a playbook is required), but the shorthand still parses.
export const ProvisionerConfig = z.preprocess(
  (v) => (typeof v === "string" ? { name: v } : v),
  z.discriminatedUnion(
    "name",
    [ShellProvisionerConfig, AnsibleProvisionerConfig, PuppetProvisionerConfig, ChefProvisionerConfig],
    { error: (iss) => (iss.code === "invalid_union" ? `expected one of ${PROVISIONER_NAMES.map((n) => JSON.stringify(n)).join(", ")}` : undefined) },
  ),
);
export type ProvisionerConfig = z.infer<typeof ProvisionerConfig>;

/**
 * How destructive suites start: `none` (default) one after another on the cluster as the others left it;
 * `snapshot` each from a snapshot of the cluster taken right after converge (drivers with snapshots).
 */
const IsolateDestructive = z.enum(["none", "snapshot"]);
/** A command that succeeds on every node once a restored cluster is ready (polled on each after a restore). */
const RestoreReady = z.string().min(1);

export const VerifierConfig = plugin({
  name: z.literal("mocha"),
  /** Spec files or folders, relative to the config file. */
  suites: z.union([z.string(), z.array(z.string()).min(1)]),
  timeout: Duration.optional(),
  reporter: z.string().optional(),
  isolate_destructive: IsolateDestructive.optional(),
  restore_ready: RestoreReady.optional(),
});

export const ArtifactSpec = z.discriminatedUnion("source", [
  z.strictObject({
    /** build: any recipe; debian and go name what the recipe fetches (a release's .debs, Go modules). */
    source: z.enum(["build", "debian", "go"]),
    /**
     * Folder with build.sh VERSION OUTDIR (and optionally resolve.sh VERSION, which turns `latest` into a
     * concrete version). The output is cached by the folder's content and the concrete version.
     */
    recipe: z.string(),
    version: z.string(),
  }),
  z.strictObject({
    /** A release tarball, as the article's `ark` installs it: downloaded, checked, unpacked. */
    source: z.literal("url"),
    url: z.string().url(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: "expected 64 lower-case hex digits" }),
    /** Binaries to take from the tarball (found anywhere in it). */
    binaries: z.array(z.string()).min(1),
  }),
  z.strictObject({ source: z.literal("path"), path: z.string() }),
]);

const Artifacts = z.record(z.string(), ArtifactSpec);

/**
 * A service of the instance: a box container beside the nodes (a discovery service, a proxy), made
 * before the nodes are provisioned and removed with them.
 */
export const ServiceSpec = z.strictObject({
  /** Set-up script (relative to the config file), run in the service container once it booted. */
  script: z.string(),
  /** Networks to join: `nodes` is the instance's node network; any other name is a network of its own. */
  networks: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).min(1).optional(),
  /** Command that succeeds when the service works; waited for at create, checked at every converge. */
  ready: z.string().optional(),
  /** Attributes for the nodes, each the output of a command run in the service once per instance. */
  export: z.record(z.string(), z.string()).optional(),
});
export type ServiceSpec = z.infer<typeof ServiceSpec>;
const Services = z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, { message: "expected a host name" }), ServiceSpec);

/** Like Chef environments: attributes (and services) shared by the suites that name the environment. */
export const EnvironmentConfig = z.strictObject({
  attributes: Attributes.optional(),
  services: Services.optional(),
});

export const NODE_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const NodeName = z.string().regex(NODE_NAME, { message: "expected a host name: lower-case letters, digits, '-'" });

export const PlatformConfig = z.strictObject({
  name: NodeName,
  /** A folder with box.yml, or the name of a box Galley ships (debian-12). */
  box: z.string().optional(),
  /** An existing Vagrant box (`generic/rocky9`) instead of a box Galley builds: vagrant driver only. */
  vagrant_box: z.string().optional(),
  attributes: Attributes.optional(),
  artifacts: Artifacts.optional(),
});

export const MAX_NODES = 16;
const nodeCount = { message: `a suite has 1 to ${MAX_NODES} nodes` };

export const SuiteConfig = z.strictObject({
  name: NodeName,
  nodes: z.union([
    z.number().int().min(1, nodeCount).max(MAX_NODES, nodeCount),
    z.array(z.strictObject({
      name: NodeName,
      attributes: Attributes.optional(),
      /** What the node is for (etcd, worker…): an Ansible inventory group each, a fact for Puppet. */
      roles: z.array(NodeName).optional(),
    })).min(1, nodeCount).max(MAX_NODES, nodeCount),
  ]),
  /** With a node count: nodes are named <prefix>0, <prefix>1, … (default infra). */
  node_prefix: z.string().regex(/^[a-z][a-z0-9-]*$/, { message: "expected the start of a host name: lower-case letters, digits, '-'" }).optional(),
  platforms: z.array(z.string()).optional(),
  excludes: z.array(z.string()).optional(),
  attributes: Attributes.optional(),
  artifacts: Artifacts.optional(),
  /** Name of an entry of `environments`, merged between platform and suite. */
  environment: z.string().optional(),
  services: Services.optional(),
  /** Overrides the shell provisioner's folder or scripts for this suite (shell only). */
  provisioner: z.strictObject({ path: z.string().optional(), script: z.string().optional(), cluster_script: z.string().optional() }).optional(),
  verifier: z.strictObject({
    suites: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** The checks `galley chaos` runs (invariants, chaos(), final checks): spec files or folders. */
    chaos: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** Overrides the verifier's isolate_destructive for this suite. */
    isolate_destructive: IsolateDestructive.optional(),
    restore_ready: RestoreReady.optional(),
  }).optional(),
});

/**
 * The compatibility matrix: one suite run over every combination of artifact versions. Each axis is
 * an artifact name mapping a label (the version users talk about) to where that version comes from.
 */
const AxisLabels = z.union([z.string(), z.array(z.string()).min(1)], {
  message: 'expected a label or a list of labels (quote numbers: "3.6")',
});

/** A cell (and optionally columns) known to fail, like an InSpec waiver (see matrix/expect.ts). */
export const MatrixExpectation = z.strictObject({
  /** Axis → label(s) covered, e.g. { etcd: ["3.6", "latest"] }; axes left out match every label. */
  cell: z.record(z.string(), AxisLabels).refine((c) => Object.keys(c).length > 0, { message: "name at least one axis" }),
  /** Columns (stages or suites) expected to fail; without them, the cell is expected to fail somewhere. */
  columns: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  reason: z.string().min(1),
  /** YYYY-MM-DD: the last day the expectation holds; after it, --strict fails naming it. */
  until: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: "expected a date written YYYY-MM-DD" }).optional(),
});

export const MatrixConfig = z.strictObject({
  suite: z.string(),
  platform: z.string().optional(),
  axes: z.record(z.string(), z.record(z.string(), ArtifactSpec)),
  expected_failures: z.array(MatrixExpectation).optional(),
});

export const GalleyConfig = z.strictObject({
  driver: DriverConfig,
  transport: TransportConfig.optional(),
  provisioner: ProvisionerConfig,
  verifier: VerifierConfig,
  attributes: Attributes.optional(),
  artifacts: Artifacts.optional(),
  services: Services.optional(),
  environments: z.record(z.string(), EnvironmentConfig).optional(),
  matrix: MatrixConfig.optional(),
  platforms: z.array(PlatformConfig).min(1),
  suites: z.array(SuiteConfig).min(1),
});

export type GalleyConfig = z.infer<typeof GalleyConfig>;
export type DockerDriverConfig = z.infer<typeof DockerDriverConfig>;
export type VagrantDriverConfig = z.infer<typeof VagrantDriverConfig>;
export type ArtifactSpec = z.infer<typeof ArtifactSpec>;
export type SuiteConfig = z.infer<typeof SuiteConfig>;
export type PlatformConfig = z.infer<typeof PlatformConfig>;

export function durationMs(d: number | string | undefined, fallbackMs: number): number {
  if (d === undefined) return fallbackMs;
  if (typeof d === "number") return d * 1000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d)!;
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}
