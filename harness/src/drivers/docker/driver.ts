// Docker driver: one bridge network per instance (nodes resolve each other by name), one container
// per node from the box image, booted in parallel, each with its own machine id (the box has none) and,
// where the box says its nodes run Docker (nested_docker), its own /var/lib/docker volume.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type Docker from "dockerode";
import type { BoxAddress } from "../../contracts/attach.ts";
import { ActionFailed, CommandFailed, commandFailure } from "../../errors.ts";
import type { InstancePlan } from "../../plan/plan.ts";
import type { InstanceState, NodeState } from "../../state/state-file.ts";
import { DockerExecTransport } from "../../transports/docker-exec.ts";
import type { BoxStatus, CollectReport, CreateContext, Driver, DriverFacts, NodeFaults, PruneReport } from "../driver.ts";
import { loadBox } from "../../boxes/definition.ts";
import { ensureBox } from "./box.ts";
import type { Check } from "../../util/check.ts";
import type { Progress } from "../../util/ui.ts";
import { collectNode } from "./collect.ts";
import { dockerChecks } from "./doctor.ts";
import { checkInotifyBudget, raiseInotifyLimit } from "./host-limits.ts";
import { dockerNetworkFaults, stopShapersFor } from "./netfaults.ts";
import { startDockerEngine } from "./start.ts";
import { docker, dockerHost } from "./client.ts";
import { bootBox, waitForBoot, type BootEnv, type BoxBoot } from "./boot.ts";
import { labelsFor, projectId, resourceName, type Owner, type Scope } from "./labels.ts";
import { dockerSnapshots } from "./snapshot.ts";
import { failureLines, sweep as sweepWith, type SweepReport } from "./sweep.ts";
import { systemdRecipe } from "./systemd.ts";

export { waitForBoot } from "./boot.ts";

export class DockerDriver implements Driver {
  readonly name = "docker";
  readonly controlTransport = "docker-exec" as const;
  readonly snapshots = dockerSnapshots;

  async create(plan: InstancePlan, { progress, record, sshKey }: CreateContext): Promise<void> {
    const { client: d, local } = await dockerHost();
    if (local) checkInotifyBudget(plan.nodes.length + Object.keys(plan.services).length);
    const box = loadBox(plan.boxDir);
    progress(`box ${box.name}`);
    const owner = ownerOf(plan);
    const image = await ensureBox(box);
    const recipe = await systemdRecipe(image, plan.driver.privileged, labelsFor(owner, "probe"));
    // A previous run killed before it saved state may have left resources: start clean.
    const leftover = await sweep(owner);
    if (leftover.failures.length) {
      throw new ActionFailed(`cannot start clean: a previous run's resources could not be removed:\n${failureLines(leftover.failures)}`);
    }
    const session = randomBytes(6).toString("hex");
    const labels = labelsFor(owner, session);
    // What this create made, reported to the runner as it grows (a failed boot still leaves a record).
    const facts: Required<DriverFacts> = { session, network: { id: "", name: "" }, volumes: [], nodes: {}, services: {} };
    record(facts);

    // Docker picks a free subnet; nodes get fixed addresses in it, so a node keeps its address across
    // a crash and restart, and after rejoining the network (peers' configuration names it).
    const netName = resourceName(owner);
    const { id: netId, subnet } = await createNetwork(d, netName, labels);
    facts.network = { id: netId, name: netName };
    record(facts);
    const addressOf = (index: number) => hostAddress(subnet, index + 2);
    // Networks that services ask for beside the node network (a DMZ's backend, say).
    const networks: Record<string, string> = { nodes: netName };
    for (const extra of plan.extraNetworks) {
      const name = resourceName(owner, "net", extra);
      await createNetwork(d, name, labels);
      networks[extra] = name;
    }

    const env: BootEnv = { d, owner, image, recipe, labels, networks };
    const boot = async (name: string, o: BoxBoot) => {
      const entry: NodeState = { container: "", ip: "", hostname: name };
      const { ip } = await bootBox(env, name, o, {
        volume: (v) => facts.volumes.push(v),
        container: (id) => {
          entry.container = id;
          (o.role === "node" ? facts.nodes : facts.services)[name] = entry;
          record(facts);
        },
      });
      entry.ip = ip;
      record(facts);
    };

    const serviceNames = Object.keys(plan.services);
    progress(`booting ${plan.nodes.length} nodes${serviceNames.length ? ` and ${serviceNames.join(", ")}` : ""}`);
    await Promise.all([
      ...plan.nodes.map((node) => boot(node.name, { role: "node", networks: ["nodes"], address: addressOf(node.index), dockerVolume: box.nestedDocker })),
      // Services on the node network take fixed addresses too (from .200 up), so Docker never hands
      // one of them an address a node is about to claim.
      ...serviceNames.map((name, k) => {
        const networks = plan.services[name]!.networks;
        const onNodes = networks[0] === "nodes";
        return boot(name, { role: "service", networks, address: onNodes ? hostAddress(subnet, 200 + k) : undefined, dockerVolume: false });
      }),
    ]);
    const boxes = { ...facts.services, ...facts.nodes };
    progress(`waiting for systemd on ${Object.keys(boxes).length} boxes`);
    await Promise.all(Object.entries(boxes).map(([name, b]) => waitForBoot({ name, ...b }, plan.driver.bootTimeoutMs)));
    // Root's key for the SSH transport (and for a user who wants plain ssh): the instance's key pair.
    progress("installing root's SSH key");
    const pub = readFileSync(`${sshKey}.pub`, "utf8").trim();
    await Promise.all(plan.nodes.map(async (n) => {
      const conn = await new DockerExecTransport(30_000).connect({ name: n.name, ...facts.nodes[n.name]! });
      const r = await conn.exec(`install -d -m 700 /root/.ssh && echo '${pub}' > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys`);
      if (r.exitCode !== 0) throw new CommandFailed(commandFailure(n.name, "installing root's SSH key", r));
    }));
  }

  async destroy(plan: InstancePlan): Promise<void> {
    // Degraded links' shapers run on the host: they go first (they would exit with their node anyway).
    await stopShapersFor(`${projectId(plan.root)}/${plan.name}`);
    const report = await sweep(ownerOf(plan));
    if (report.failures.length) {
      // Everything else is gone; state keeps pointing at what is left, so login and a second destroy still work.
      throw new ActionFailed(`could not remove ${report.failures.length === 1 ? "one resource" : `${report.failures.length} resources`} of ${plan.name}:\n${failureLines(report.failures)}`);
    }
  }

  async prune(project?: string): Promise<PruneReport> {
    // `project` is the config's folder; labels and shaper names carry its hash.
    const id = project === undefined ? undefined : projectId(project);
    await stopShapersFor(id === undefined ? "" : `${id}/`);
    const r = await sweep(id === undefined ? undefined : { project: id });
    return {
      removed: [...r.containers.map((c) => `container ${c}`), ...r.networks.map((n) => `network ${n}`), ...r.volumes.map((v) => `volume ${v}`), ...r.images.map((i) => `image ${i}`), ...r.cgroups.map((c) => `cgroup ${c}`)],
      failed: r.failures.map((f) => `${f.resource}: ${f.reason}`),
    };
  }

  /** The engine (where it was found, on this machine or not), the systemd recipe, its disk, inotify. */
  prerequisites(): Promise<Check[]> {
    return dockerChecks();
  }

  async provide(action: string, progress: Progress): Promise<void> {
    if (action === "start-docker") await startDockerEngine(progress);
    else if (action === "raise-inotify") raiseInotifyLimit();
    else throw new Error(`the docker driver has no setup action ${action}`);
  }

  async status(state: InstanceState, box: string): Promise<BoxStatus | undefined> {
    const id = (state.nodes[box] ?? state.services?.[box])?.container;
    if (!id) return undefined;
    const info = await (await docker()).getContainer(id).inspect().catch(() => undefined);
    if (!info) return { running: false, description: `its container ${id.slice(0, 12)} was removed` };
    return { running: info.State.Running && !info.State.Paused, description: `container ${info.Name.slice(1)} ${info.State.Paused ? "paused" : info.State.Status}, exit code ${info.State.ExitCode}` };
  }

  collect(state: InstanceState, node: string, dir: string): Promise<CollectReport> {
    return collectNode(state, node, dir);
  }

  faults: NodeFaults = {
    crash: async (state, node) => {
      await (await container(state, node)).kill({ signal: "SIGKILL" });
    },
    stop: async (state, node) => {
      await (await container(state, node)).stop({ t: 20 });
    },
    start: async (state, node, bootTimeoutMs) => {
      // Starting a running node is a no-op (Docker answers 304), as booting a booted machine would be.
      await (await container(state, node)).start().catch((e) => {
        if ((e as { statusCode?: number }).statusCode !== 304) throw e;
      });
      await waitForBoot(addressOf(state, node), bootTimeoutMs);
    },
    isolate: async (state, node) => {
      const d = await docker();
      await d.getNetwork(state.network!.id).disconnect({ Container: (await container(state, node)).id, Force: true });
    },
    rejoin: async (state, node) => {
      const d = await docker();
      // Same address and alias as before, so peers' configuration still points at it.
      await d.getNetwork(state.network!.id).connect({
        Container: (await container(state, node)).id,
        EndpointConfig: { Aliases: [node], IPAMConfig: { IPv4Address: addressOf(state, node).ip } },
      });
    },
    // docker pause: the cgroup freezer stops every process; sockets stay open and the kernel still answers.
    pause: async (state, node) => {
      const c = await container(state, node);
      if (!(await c.inspect()).State.Paused) await c.pause();
    },
    resume: async (state, node) => {
      const c = await container(state, node);
      if ((await c.inspect()).State.Paused) await c.unpause();
    },
    network: dockerNetworkFaults,
  };
}

function addressOf(state: InstanceState, node: string): BoxAddress {
  const box = state.nodes[node] ?? state.services?.[node];
  if (!box) throw new ActionFailed(`unknown node ${node} (nodes: ${Object.keys(state.nodes).join(", ")})`);
  return { name: node, ...box };
}

async function container(state: InstanceState, node: string): Promise<Docker.Container> {
  return (await docker()).getContainer(addressOf(state, node).container!);
}

/**
 * A bridge network with an explicit subnet (Docker only honours fixed addresses on those). The subnet
 * is the one Docker itself would pick from its address pools: a throwaway network asks for it.
 */
async function createNetwork(d: Docker, name: string, labels: Record<string, string>): Promise<{ id: string; subnet: string }> {
  for (let attempt = 1; ; attempt++) {
    const probe = await d.createNetwork({ Name: `${name}-probe`, Driver: "bridge", Labels: labels });
    const ipam = (await probe.inspect()).IPAM?.Config?.[0] as { Subnet: string; Gateway?: string };
    await probe.remove();
    try {
      const net = await d.createNetwork({
        Name: name,
        Driver: "bridge",
        Labels: labels,
        CheckDuplicate: true,
        IPAM: { Driver: "default", Config: [{ Subnet: ipam.Subnet, ...(ipam.Gateway ? { Gateway: ipam.Gateway } : {}) }] },
      });
      return { id: net.id, subnet: ipam.Subnet };
    } catch (err) {
      // Another process took the subnet between the probe and now: ask again.
      if (attempt < 5 && /overlap/i.test((err as Error).message)) continue;
      throw err;
    }
  }
}

const ownerOf = (plan: InstancePlan): Owner => ({ instance: plan.name, root: plan.root });

/** The index-th address of an IPv4 subnet ("172.18.0.0/16", 2 → "172.18.0.2"). */
export function hostAddress(subnet: string, index: number): string {
  const [base] = subnet.split("/");
  const n = base!.split(".").reduce((acc, o) => acc * 256 + Number(o), 0) + index;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/**
 * Removes every container, network and volume labelled for the instance (or, without an owner,
 * everything Galley made), and the host cgroups their Docker left; reports what it could not remove.
 */
export async function sweep(owner?: Scope): Promise<SweepReport> {
  return sweepWith(owner, await docker());
}
