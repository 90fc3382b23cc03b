// Vagrant driver: real VMs, one multi-machine Vagrantfile per instance under .galley/<instance>/,
// Galley's own VAGRANT_HOME, every node booted at once (`vagrant up --parallel`), `vagrant ssh-config`
// read once, and from then on the ssh transport (root with the instance's key), never `vagrant ssh`.
// Faults act on the libvirt domain: crash = virsh destroy, stop = ACPI shutdown, isolate = the nodes'
// network link down (SSH goes through the management network, so an isolated node stays reachable).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadBox } from "../../boxes/definition.ts";
import type { BoxAddress } from "../../contracts/attach.ts";
import { ActionFailed, BootFailed, CommandFailed, commandFailure, EnvironmentError, UserError } from "../../errors.ts";
import type { InstancePlan } from "../../plan/plan.ts";
import type { InstanceState, NodeState } from "../../state/state-file.ts";
import { SshTransport } from "../../transports/ssh.ts";
import { InstanceLog } from "../../util/instance-log.ts";
import type { BoxStatus, CreateContext, Driver, DriverFacts, NodeFaults, PruneReport } from "../driver.ts";
import { boxImageOf, boxVolumeName, ensureVagrantBox, type VagrantBox } from "./box-package.ts";
import { ensureLibvirtChains } from "./firewall.ts";
import { chooseAccelerator, ensureLibvirtd, ensureMachinePartition, lockHost } from "./host.ts";
import { vmBoxOf } from "./image.ts";
import { consoleDir, domainState, ensureLibvirtFiles, ensurePoolFile, interfaceOn, POOL, removeByPrefix, tcgEmulator, virsh, virshMaybe } from "./libvirt.ts";
import { domainName, instancePrefix, networkNames, projectPrefix, type Owner } from "./names.ts";
import { NETMASK, nodeAddress, pickSubnets, usedSubnets } from "./network.ts";
import { cleanUpShared, forgetMachines, pruneVagrant } from "./prune.ts";
import { renderVagrantfile } from "./vagrantfile.ts";
import { parseSshConfig, vagrant, type SshEndpoint } from "./vagrant.ts";

const DEFAULT_MEMORY_MB = 512;

export class VagrantDriver implements Driver {
  readonly name = "vagrant";
  /** SSH over the management network: it reaches a node whose nodes' network link is down. */
  readonly controlTransport = "ssh" as const;

  async create(plan: InstancePlan, { progress, record, sshKey }: CreateContext): Promise<void> {
    const provider = plan.driver.provider ?? "libvirt";
    if (Object.keys(plan.services).length) {
      throw new UserError(`${plan.name}: the vagrant driver runs no service containers (asked for: ${Object.keys(plan.services).join(", ")}); use the docker driver for suites with services`);
    }
    if (provider === "libvirt") await ensureLibvirtd();
    const log = new InstanceLog(plan.stateDir);
    const owner: Owner = { instance: plan.name, root: plan.root };

    let box: { name: string; files?: VagrantBox };
    if (plan.vagrantBox) {
      box = { name: plan.vagrantBox };
    } else {
      if (provider !== "libvirt") throw new UserError(`${plan.name}: Galley builds libvirt boxes only; with provider ${provider}, name a box with the platform's vagrant_box`);
      progress("box");
      const files = await ensureVagrantBox(vmBoxOf(loadBox(plan.boxDir)));
      box = { name: files.name, files };
    }
    const accel = provider === "libvirt" ? await chooseAccelerator(box.files?.kernel) : undefined;
    if (accel) log.write("galley", `accelerator: ${accel.accel} (${accel.reason})`);

    const vagrantfile = path.join(plan.stateDir, "Vagrantfile");
    const release = provider === "libvirt" ? await lockHost({ wait: true }) : undefined;
    const addresses: Record<string, string> = {};
    // What this create made, reported to the runner as it grows (a failed boot still leaves a record).
    const facts: Required<Pick<DriverFacts, "session" | "nodes">> = { session: randomBytes(6).toString("hex"), nodes: {} };
    try {
      // A previous run killed before it saved state may have left domains and networks: start clean.
      await this.removeInstance(plan, owner);
      let spec;
      if (provider === "libvirt") {
        await ensureLibvirtFiles();
        await ensureLibvirtChains();
        for (const dir of ensureMachinePartition()) log.write("galley", `made libvirt's cgroup partition ${dir}`);
        const subnets = pickSubnets(instancePrefix(owner), await usedSubnets());
        plan.nodes.forEach((n) => (addresses[n.name] = nodeAddress(subnets.nodes, n.index)));
        let galleyBox;
        if (box.files) {
          progress("box files into the storage pool");
          const image = boxImageOf(box.name);
          if (image) await ensurePoolFile(boxVolumeName(box.name), image);
          galleyBox = {
            kernel: await ensurePoolFile(`${box.name}-vmlinuz`, box.files.kernel),
            initrd: await ensurePoolFile(`${box.name}-initrd.img`, box.files.initrd),
            privateKey: box.files.privateKey,
          };
        }
        const nets = networkNames(owner);
        spec = renderVagrantfile({
          instance: plan.name,
          provider,
          box: box.name,
          galleyBox,
          memoryMb: plan.driver.memory ?? DEFAULT_MEMORY_MB,
          cpus: plan.driver.cpus ?? 1,
          bootTimeoutS: Math.ceil(plan.driver.bootTimeoutMs / 1000),
          netmask: NETMASK,
          nodes: plan.nodes.map((n) => ({ name: n.name, ip: addresses[n.name]! })),
          libvirt: {
            accel: accel!.accel,
            emulator: accel!.accel === "tcg" ? tcgEmulator() : undefined,
            prefix: instancePrefix(owner),
            pool: POOL,
            managementNetwork: { name: nets.management, address: `${subnets.management}.0/24` },
            nodesNetwork: nets.nodes,
            consoleDir: consoleDir(),
          },
        });
      } else {
        // VirtualBox picks nothing for us: a host-only network in 192.168.56.0/21, VirtualBox's default range.
        plan.nodes.forEach((n) => (addresses[n.name] = `192.168.56.${n.index + 10}`));
        spec = renderVagrantfile({
          instance: plan.name, provider, box: box.name, memoryMb: plan.driver.memory ?? DEFAULT_MEMORY_MB, cpus: plan.driver.cpus ?? 1,
          bootTimeoutS: Math.ceil(plan.driver.bootTimeoutMs / 1000), netmask: NETMASK,
          nodes: plan.nodes.map((n) => ({ name: n.name, ip: addresses[n.name]! })),
        });
      }
      writeFileSync(vagrantfile, spec);
      // container: the driver's name for the box (the libvirt domain); host/port follow from ssh-config.
      facts.nodes = Object.fromEntries(plan.nodes.map((n) => [n.name, { container: domainName(owner, n.name), ip: addresses[n.name]!, hostname: n.name }]));
      record(facts);
      progress(`booting ${plan.nodes.length} VMs (${accel ? accel.accel : provider})`);
      let lastLine = "";
      await vagrant(["up", "--parallel", "--no-provision", `--provider=${provider}`], {
        cwd: plan.stateDir,
        provider,
        what: `${plan.name}: vagrant up`,
        timeoutMs: plan.driver.bootTimeoutMs + 10 * 60_000,
        onLine: (l) => {
          if (/Progress: \d+%/.test(l)) return;
          log.write("vagrant up", l);
          const m = /^==> (\S+): (.*)$/.exec(l);
          if (m && m[2] !== lastLine) progress(`${m[1]}: ${(lastLine = m[2]!).slice(0, 70)}`);
        },
      }).catch(async (err) => {
        throw new ActionFailed(`${(err as Error).message}${await consoleTails(facts.nodes)}`);
      });
    } finally {
      await release?.();
    }

    // One `vagrant ssh-config` for every node; from here on, plain SSH.
    const endpoints = parseSshConfig((await vagrant(["ssh-config"], { cwd: plan.stateDir, provider, what: `${plan.name}: vagrant ssh-config` })).stdout);
    const pub = readFileSync(`${sshKey}.pub`, "utf8").trim();
    const hosts = plan.nodes.map((n) => `${addresses[n.name]} ${n.name}`).join("\n");
    progress("root's key and /etc/hosts on every node");
    await Promise.all(plan.nodes.map(async (n) => {
      const ep = endpoints[n.name];
      if (!ep) throw new ActionFailed(`node ${n.name}: \`vagrant ssh-config\` has no entry for it (entries: ${Object.keys(endpoints).join(", ") || "none"})`);
      Object.assign(facts.nodes[n.name]!, { host: ep.host, port: ep.port } satisfies Partial<NodeState>);
      record(facts);
      // Root's key for the ssh transport (and for `galley login`), and the nodes' names, as Docker's
      // DNS gives them to containers.
      await asVagrantUser(n.name, ep, [
        "install -d -m 700 /root/.ssh",
        `echo '${pub}' > /root/.ssh/authorized_keys`,
        "chmod 600 /root/.ssh/authorized_keys",
        "sed -i '/# galley$/d' /etc/hosts",
        `printf '%s\\n' ${hosts.split("\n").map((l) => `'${l} # galley'`).join(" ")} >> /etc/hosts`,
      ].join(" && "));
    }));
    await Promise.all(plan.nodes.map((n) => waitForBoot({ name: n.name, ...facts.nodes[n.name]!, keyFile: sshKey }, plan.driver.bootTimeoutMs)));
  }

  async destroy(plan: InstancePlan): Promise<void> {
    const owner: Owner = { instance: plan.name, root: plan.root };
    const failures = await this.removeInstance(plan, owner);
    if (failures.length) {
      throw new ActionFailed(`could not remove ${failures.length === 1 ? "one resource" : `${failures.length} resources`} of ${plan.name}:\n${failures.map((f) => `  ${f.resource}: ${f.reason}`).join("\n")}`);
    }
  }

  /** Every VM, volume and network Galley made in libvirt (`project`: a config folder; only its), and what they shared. */
  async prune(project?: string): Promise<PruneReport> {
    const r = await pruneVagrant(project ? projectPrefix(project) : undefined);
    return { removed: r.removed, failed: r.failures.map((f) => `${f.resource}: ${f.reason}`) };
  }

  async status(state: InstanceState, box: string): Promise<BoxStatus | undefined> {
    const domain = state.nodes[box]?.container;
    if (!domain) return undefined;
    const s = await domainState(domain).catch((e) => `unknown (${(e as Error).message.split("\n")[0]})`);
    return { running: s === "running", description: `VM ${domain} ${s || "is gone"}` };
  }

  /** Domains, volumes, networks, console logs and Vagrant's records of the instance; then what instances share, when unused. */
  private async removeInstance(plan: InstancePlan, owner: Owner): Promise<{ resource: string; reason: string }[]> {
    const report = { removed: [] as string[], failures: [] as { resource: string; reason: string }[] };
    if ((plan.driver.provider ?? "libvirt") === "libvirt" && (await libvirtInstalled())) {
      await ensureLibvirtd();
      await removeByPrefix(instancePrefix(owner), report);
    } else if (existsSync(path.join(plan.stateDir, ".vagrant"))) {
      // VirtualBox: Vagrant knows its machines.
      await vagrant(["destroy", "--force"], { cwd: plan.stateDir, provider: plan.driver.provider, what: `${plan.name}: vagrant destroy` }).catch((e) =>
        report.failures.push({ resource: "vagrant machines", reason: (e as Error).message }));
    }
    rmSync(path.join(plan.stateDir, ".vagrant"), { recursive: true, force: true });
    rmSync(path.join(plan.stateDir, "Vagrantfile"), { force: true });
    await forgetMachines(plan.stateDir);
    if ((plan.driver.provider ?? "libvirt") === "libvirt" && (await libvirtInstalled())) await cleanUpShared(report);
    return report.failures;
  }

  faults: NodeFaults = {
    crash: async (state, node) => {
      await virsh(["destroy", domainOf(state, node)], `crash ${node}`);
    },
    stop: async (state, node) => {
      const domain = domainOf(state, node);
      await virsh(["shutdown", domain, "--mode", "acpi"], `stop ${node}`);
      // The guest powers off on the ACPI power button (systemd-logind); wait until QEMU is gone.
      const deadline = Date.now() + 90_000;
      while ((await domainState(domain)) !== "shut off") {
        if (Date.now() > deadline) throw new ActionFailed(`node ${node}: still ${await domainState(domain)} 90 s after the ACPI shutdown request (domain ${domain})`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    start: async (state, node, bootTimeoutMs) => {
      const domain = domainOf(state, node);
      // Starting a running node is a no-op, as booting a booted machine would be.
      if ((await domainState(domain)) !== "running") await virsh(["start", domain], `start ${node}`);
      await waitForBoot({ name: node, ...state.nodes[node]!, keyFile: state.nodes[node]!.keyFile ?? state.sshKey }, bootTimeoutMs);
    },
    isolate: async (state, node) => {
      const domain = domainOf(state, node);
      await virsh(["domif-setlink", domain, await interfaceOn(domain, nodesNetworkOf(domain)), "down"], `isolate ${node}`);
    },
    rejoin: async (state, node) => {
      const domain = domainOf(state, node);
      await virsh(["domif-setlink", domain, await interfaceOn(domain, nodesNetworkOf(domain)), "up"], `rejoin ${node}`);
    },
  };
}

function domainOf(state: InstanceState, node: string): string {
  const d = state.nodes[node]?.container;
  if (!d) throw new ActionFailed(`unknown node ${node} (nodes: ${Object.keys(state.nodes).join(", ")})`);
  return d;
}

/** The nodes' network of the instance a domain belongs to (same prefix). */
function nodesNetworkOf(domain: string): string {
  return `${domain.slice(0, domain.lastIndexOf("_") + 1)}nodes`;
}

async function libvirtInstalled(): Promise<boolean> {
  return virshMaybe(["--version"]).then(() => true, (e) => (e instanceof EnvironmentError ? false : Promise.reject(e)));
}

/** Runs a root script as the box's user vagrant (sudo), with the key `vagrant ssh-config` named. */
async function asVagrantUser(node: string, ep: SshEndpoint, script: string): Promise<void> {
  if (!ep.identityFile) throw new ActionFailed(`node ${node}: \`vagrant ssh-config\` names no IdentityFile`);
  const conn = await new SshTransport(60_000).connect({ name: node, ip: ep.host, host: ep.host, port: ep.port, user: ep.user, keyFile: ep.identityFile });
  try {
    const r = await conn.exec(`sudo -n bash -c ${shellQuote(script)}`);
    if (r.exitCode !== 0) throw new CommandFailed(commandFailure(node, `installing root's SSH key and /etc/hosts as ${ep.user}`, r));
  } finally {
    await conn.close();
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Waits until the node answers SSH and systemd finished booting; a boot that ends degraded fails
 * naming the failed units, one that never answers shows the end of its console.
 */
export async function waitForBoot(box: BoxAddress, timeoutMs: number): Promise<void> {
  const node = box.name;
  const deadline = Date.now() + timeoutMs;
  const transport = new SshTransport(timeoutMs);
  let lastError = "";
  while (Date.now() < deadline) {
    let conn;
    try {
      conn = await transport.connect(box);
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    try {
      const left = Math.max(1000, deadline - Date.now());
      const r = await conn.exec(
        'while :; do s=$(systemctl is-system-running --wait 2>/dev/null || true); case "$s" in running|degraded|maintenance) echo "$s"; exit 0;; esac; sleep 0.2; done',
        { timeoutMs: left },
      );
      const status = r.stdout.trim();
      if (status === "running") return;
      const failed = await conn.exec(
        "systemctl list-jobs --no-legend | head -5; for u in $(systemctl list-units --failed --plain --no-legend | awk '{print $1}'); do echo \"--- $u\"; journalctl -u \"$u\" -n 10 --no-pager; done",
        { timeoutMs: 20_000 },
      );
      throw new BootFailed({ node, status: r.exitCode === 124 ? "timeout" : status || "failed", timeoutMs, units: failed.stdout.trim() });
    } finally {
      await conn.close();
    }
  }
  throw new ActionFailed(`node ${node}: no SSH answer within ${Math.round(timeoutMs / 1000)} s (last: ${lastError})${await consoleTails({ [node]: box })}`);
}

/** The last console lines of the given nodes, for errors about boots. */
async function consoleTails(nodes: Record<string, { container?: string }>): Promise<string> {
  const parts: string[] = [];
  for (const [name, n] of Object.entries(nodes)) {
    if (!n.container) continue;
    const file = path.join(consoleDir(), `${n.container}.log`);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.trim());
    parts.push(`\n--- console of ${name} (${file}), last lines:\n${lines.slice(-8).join("\n")}`);
  }
  return parts.join("");
}
