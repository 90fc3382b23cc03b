// Booting one systemd box (node or service) from an image: the container as create makes it (name,
// host name, labels, static address, aliases, the systemd recipe, a /var/lib/docker volume where the box
// runs Docker inside), started; and waiting for systemd to finish booting. Create uses it for the boxes
// it makes, restore for the boxes it remakes from a snapshot, so both boot the same box.
import type Docker from "dockerode";
import type { BoxAddress } from "../../contracts/attach.ts";
import { BootFailed } from "../../errors.ts";
import { DockerExecTransport } from "../../transports/docker-exec.ts";
import { LABEL_NODE, LABEL_ROLE, resourceName, type Owner } from "./labels.ts";
import { nestInnerDockerCgroups, sharesHostCgroups } from "./nested-cgroups.ts";
import { hostConfigFor, type SystemdRecipe } from "./systemd.ts";

export interface BoxBoot {
  role: "node" | "service";
  /** Network names (`nodes` and the extra networks), resolved through `networks` of BootEnv. */
  networks: string[];
  /** Static address on the first network. */
  address?: string;
  dockerVolume: boolean;
  /**
   * The image is a snapshot of a booted box: its Docker is configured already (and asking the engine
   * whether daemon.json exists would leave a HEAD request's socket open, keeping the process alive).
   */
  fromSnapshot?: boolean;
}

export interface BootEnv {
  d: Docker;
  owner: Owner;
  image: string;
  recipe: SystemdRecipe;
  /** The instance's labels (owner and session). */
  labels: Record<string, string>;
  /** Network kind (`nodes`, extra names) → Docker network name. */
  networks: Record<string, string>;
}

/** The /var/lib/docker volume of a box (its name is what restore fills before the box boots). */
export const dockerVolumeName = (owner: Owner, box: string): string => resourceName(owner, box, "docker");

/**
 * Creates and starts one box. `made` hears of the volume and the container as soon as each exists
 * (a boot that fails halfway still leaves a record); returns the container id and its address.
 */
export async function bootBox(
  env: BootEnv,
  name: string,
  o: BoxBoot,
  made: { volume(name: string): void; container(id: string): void },
): Promise<{ id: string; ip: string }> {
  const { d, owner } = env;
  const boxLabels = { ...env.labels, [LABEL_NODE]: name, [LABEL_ROLE]: o.role };
  const hostConfig = hostConfigFor(env.recipe);
  const binds = [...(hostConfig.Binds ?? [])];
  if (o.dockerVolume) {
    // Docker inside the node needs /var/lib/docker on a real filesystem, not on overlayfs. Creating a
    // volume that exists (restore filled it already) keeps it as it is.
    const volume = dockerVolumeName(owner, name);
    await d.createVolume({ Name: volume, Labels: boxLabels });
    made.volume(volume);
    binds.push(`${volume}:/var/lib/docker`);
  }
  const [first, ...rest] = o.networks.map((n) => env.networks[n]!);
  const container = await d.createContainer({
    name: resourceName(owner, name),
    Hostname: name,
    Image: env.image,
    Env: ["container=docker"],
    Labels: boxLabels,
    StopSignal: "SIGRTMIN+3",
    StopTimeout: 20,
    HostConfig: { ...hostConfig, Binds: binds, NetworkMode: first },
    NetworkingConfig: {
      EndpointsConfig: { [first!]: { Aliases: [name], ...(o.address ? { IPAMConfig: { IPv4Address: o.address } } : {}) } },
    },
  });
  for (const net of rest) await d.getNetwork(net).connect({ Container: container.id, EndpointConfig: { Aliases: [name] } });
  // Docker in the node keeps its containers' cgroups inside the node's, not beside the host's.
  if (o.dockerVolume && !o.fromSnapshot && sharesHostCgroups(hostConfig)) await nestInnerDockerCgroups(container);
  made.container(container.id);
  await container.start();
  const info = await container.inspect();
  return { id: container.id, ip: info.NetworkSettings.Networks[first!]?.IPAddress ?? "" };
}

/** Waits for `systemctl is-system-running` to finish booting; on failure names the failed units and their last journal lines. */
export async function waitForBoot(box: BoxAddress, timeoutMs: number): Promise<void> {
  const conn = await new DockerExecTransport(timeoutMs).connect(box);
  // --wait answers "starting" at once while the manager is not yet reachable: ask until boot is over.
  const r = await conn.exec(
    'while :; do s=$(systemctl is-system-running --wait 2>/dev/null || true); case "$s" in running|degraded|maintenance) echo "$s"; exit 0;; esac; sleep 0.1; done',
    { timeoutMs },
  );
  const status = r.stdout.trim();
  if (status === "running") return;
  const failed = await conn.exec(
    "systemctl list-jobs --no-legend | head -5; for u in $(systemctl list-units --failed --plain --no-legend | awk '{print $1}'); do echo \"--- $u\"; journalctl -u \"$u\" -n 10 --no-pager; done",
    { timeoutMs: 20_000 },
  );
  throw new BootFailed({ node: box.name, status: r.exitCode === 124 ? "timeout" : status || "failed", timeoutMs, units: failed.stdout.trim() });
}
