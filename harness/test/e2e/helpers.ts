// Runs the real CLI as a user would, and asks the real host what is left behind: Docker's containers,
// networks and volumes (all of them, not only Galley's labels), processes, and Docker's cgroups.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { projectId } from "../../src/drivers/docker/labels.ts";

export const repo = path.resolve(import.meta.dirname, "../../..");
const bin = path.join(repo, "harness", "bin", "galley.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  env?: Record<string, string>;
  /** Sends `signal` as soon as stderr matches `pattern`. */
  signalAfter?: { pattern: RegExp; signal: NodeJS.Signals };
  onSpawn?: (child: ChildProcess) => void;
}

// Every galley these tests start, and everything it starts on the host, inherits this variable: a
// process still carrying it after the run is an orphan, whatever its command line says.
const MARK = "GALLEY_E2E_RUN";
const MARK_VALUE = `e2e-${process.pid}`;

/** The environment for any other process these tests start (npm, npx galley), marked the same way. */
export const markedEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, [MARK]: MARK_VALUE, ...extra });

/**
 * A throwaway project in `dir` for a box of the test's own (box/, written by the caller): a provisioning
 * that does nothing, the fleet-cluster suites, one platform on that box and one 1-node suite.
 */
export function writeOneBoxProject(dir: string, platform: string, suite: string): void {
  mkdirSync(path.join(dir, "box"), { recursive: true });
  mkdirSync(path.join(dir, "provision"), { recursive: true });
  writeFileSync(path.join(dir, "provision", "provision.sh"), "true\n");
  writeFileSync(path.join(dir, "galley.yml"), [
    "driver: docker",
    "provisioner: { name: shell, path: provision, script: provision.sh }",
    `verifier: { name: mocha, suites: ${path.join(repo, "suites", "fleet-cluster")} }`,
    "platforms:",
    `  - { name: ${platform}, box: box }`,
    "suites:",
    `  - { name: ${suite}, nodes: 1 }`,
    "",
  ].join("\n"));
}

export function galley(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const env = { ...process.env, [MARK]: MARK_VALUE, ...opts.env };
    const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    opts.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => {
      stderr += b;
      if (opts.signalAfter && !sent && opts.signalAfter.pattern.test(stderr)) {
        sent = true;
        child.kill(opts.signalAfter.signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - start }));
  });
}

/**
 * Everything labelled for an instance (or any Galley instance) that still exists, except what another
 * checkout made (its galley.project is none of this checkout's config folders).
 */
export async function leftovers(instance?: string): Promise<string[]> {
  const d = new Docker();
  const filters = { label: [instance ? `galley.instance=${instance}` : "galley.instance"] };
  const [containers, networks, volumes] = await Promise.all([
    d.listContainers({ all: true, filters }),
    d.listNetworks({ filters }),
    d.listVolumes({ filters }),
  ]);
  const ours = new Set(checkoutProjects());
  const mine = (labels?: Record<string, string>) => !labels?.[PROJECT] || ours.has(labels[PROJECT]);
  return [
    ...containers.filter((c) => mine(c.Labels)).map((c) => `container ${c.Names[0]}`),
    ...networks.filter((n) => mine(n.Labels)).map((n) => `network ${n.Name}`),
    ...(volumes.Volumes ?? []).filter((v) => mine(v.Labels)).map((v) => `volume ${v.Name}`),
  ];
}

/** Project ids of every config folder in this checkout (galley.yml at the top, fixtures/ssh, fixtures/broken, …). */
export function checkoutProjects(extraDirs: string[] = []): string[] {
  const dirs = [...extraDirs];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && !["node_modules", ".git", ".galley", ".scratch"].includes(e.name)) walk(path.join(dir, e.name));
      else if (e.isFile() && e.name === "galley.yml") dirs.push(dir);
    }
  };
  walk(repo);
  return dirs.map(projectId);
}

// ---- Host snapshots: everything, unfiltered ----

export interface HostSnapshot {
  containers: { id: string; name: string; state: string; labels: Record<string, string>; volumes: string[] }[];
  networks: { id: string; name: string; labels: Record<string, string> }[];
  volumes: { name: string; labels: Record<string, string> }[];
  /** Processes started by these tests' galley runs (the marker variable) or naming this checkout. */
  processes: { key: string; pid: number; ppid: number; cmd: string }[];
  /** Top-most cgroup directories named after a container id, in every mounted hierarchy ("memory/docker/<id>"). */
  cgroups: string[];
  /** Container id (host containers and containers inside Galley nodes) → galley.project of its owner. */
  owners: Record<string, string>;
}

const PROJECT = "galley.project";
const CONTAINER_ID = /[0-9a-f]{64}/;

export async function hostSnapshot(): Promise<HostSnapshot> {
  const d = new Docker();
  const [containers, networks, volumes] = await Promise.all([d.listContainers({ all: true }), d.listNetworks(), d.listVolumes()]);
  const owners: Record<string, string> = {};
  for (const c of containers) if (c.Labels[PROJECT]) owners[c.Id] = c.Labels[PROJECT];
  // A node's own Docker keeps its containers in the node's /var/lib/docker volume: their ids tell
  // whose cgroups are whose (readable when the daemon runs on this machine, as in these tests).
  for (const v of volumes.Volumes ?? []) {
    const project = v.Labels?.[PROJECT];
    if (!project) continue;
    for (const id of safeReaddir(path.join(v.Mountpoint, "containers"))) owners[id] = project;
  }
  return {
    containers: containers.map((c) => ({
      id: c.Id,
      name: c.Names[0]?.replace(/^\//, "") ?? c.Id,
      state: c.State,
      labels: c.Labels ?? {},
      volumes: (c.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name!),
    })),
    networks: networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} })),
    volumes: (volumes.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} })),
    processes: ourProcesses(),
    cgroups: dockerCgroups(),
    owners,
  };
}

/**
 * What exists in `after` and did not in `before`, one line per resource. Nothing is filtered except
 * what provably belongs to another checkout (a galley.project label that is none of this checkout's
 * config folders nor `configDirs`, or a cgroup of a container such a checkout made): in CI, where
 * nothing else runs, this is the strict, unfiltered diff.
 * `seen` are snapshots taken in between (they remember whose inner containers existed meanwhile).
 */
export function diffSnapshots(before: HostSnapshot, after: HostSnapshot, o: { configDirs?: string[]; seen?: HostSnapshot[] } = {}): string[] {
  const ours = new Set(checkoutProjects(o.configDirs));
  const owners = Object.assign({}, before.owners, ...(o.seen ?? []).map((s) => s.owners), after.owners) as Record<string, string>;
  const foreign = (labels: Record<string, string>) => labels[PROJECT] !== undefined && !ours.has(labels[PROJECT]);
  const foreignVolumes = new Set(after.containers.filter((c) => foreign(c.labels)).flatMap((c) => c.volumes));
  const had = <T>(list: T[], key: (x: T) => string) => new Set(list.map(key));
  const out: string[] = [];
  const oldContainers = had(before.containers, (c) => c.id);
  for (const c of after.containers) {
    if (!oldContainers.has(c.id) && !foreign(c.labels)) out.push(`container ${c.name} (${c.state}${labelText(c.labels)})`);
  }
  const oldNetworks = had(before.networks, (n) => n.id);
  for (const n of after.networks) if (!oldNetworks.has(n.id) && !foreign(n.labels)) out.push(`network ${n.name} (${labelText(n.labels).trim() || "no galley labels"})`);
  const oldVolumes = had(before.volumes, (v) => v.name);
  for (const v of after.volumes) {
    if (!oldVolumes.has(v.name) && !foreign(v.labels) && !foreignVolumes.has(v.name)) out.push(`volume ${v.name} (${labelText(v.labels).trim() || "no galley labels"})`);
  }
  const oldProcesses = had(before.processes, (p) => p.key);
  for (const p of after.processes) if (!oldProcesses.has(p.key)) out.push(`process ${p.pid} (parent ${p.ppid}): ${p.cmd}`);
  const oldCgroups = new Set(before.cgroups);
  for (const g of after.cgroups) {
    if (oldCgroups.has(g)) continue;
    const owner = owners[CONTAINER_ID.exec(g)![0]];
    if (owner === undefined || ours.has(owner)) out.push(`cgroup ${g}`);
  }
  return out;
}

/**
 * Takes a snapshot now and keeps noting whose containers exist until `leftovers()`, which returns what
 * is new since (waiting a few seconds for processes that are still exiting).
 */
export class LeakWatch {
  private seen: HostSnapshot[] = [];
  private timer?: NodeJS.Timeout;
  private constructor(readonly before: HostSnapshot, private configDirs: string[]) {}

  /** `configDirs`: config folders outside this checkout that the test uses (a temporary galley.yml). */
  static async start(configDirs: string[] = []): Promise<LeakWatch> {
    const w = new LeakWatch(await hostSnapshot(), configDirs);
    const tick = () => {
      // unref: a test that fails before leftovers() must not keep mocha alive.
      w.timer = setTimeout(() => void hostSnapshot().then((s) => w.seen.push(s), () => {}).finally(() => w.timer && tick()), 1000).unref();
    };
    tick();
    return w;
  }

  /** A snapshot to remember in between (say, before destroy, when the nodes' inner containers exist). */
  async note(): Promise<HostSnapshot> {
    const s = await hostSnapshot();
    this.seen.push(s);
    return s;
  }

  async leftovers(): Promise<string[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const diff = diffSnapshots(this.before, await this.note(), { configDirs: this.configDirs, seen: this.seen });
      const onlyProcesses = diff.length > 0 && diff.every((l) => l.startsWith("process "));
      if (!onlyProcesses || Date.now() > deadline) {
        clearTimeout(this.timer);
        this.timer = undefined;
        return diff;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Galley's labels as " k=v k=v" (empty when there are none: that is news too). */
function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).filter(([k]) => k.startsWith("galley.")).map(([k, v]) => ` ${k}=${v}`).join("");
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** Processes these tests' galley runs started, or that name this checkout, that match `test`. */
export function processesMatching(test: (p: HostSnapshot["processes"][number]) => boolean): HostSnapshot["processes"] {
  return ourProcesses().filter(test);
}

/** Processes these tests' galley runs started (they carry the marker) or that name this checkout. */
function ourProcesses(): HostSnapshot["processes"] {
  const out: HostSnapshot["processes"] = [];
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmd = safeRead(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
    const marked = safeRead(`/proc/${pid}/environ`).split("\0").includes(`${MARK}=${MARK_VALUE}`);
    if (!marked && !cmd.includes(repo + "/")) continue;
    // Fields after the command name (which may hold spaces): state, ppid, …, starttime (22nd).
    const stat = safeRead(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") continue; // exited, not yet reaped by its parent
    out.push({ key: `${pid}@${fields[19]}`, pid, ppid: Number(fields[1]), cmd: cmd || stat.slice(0, stat.lastIndexOf(")") + 1) });
  }
  return out;
}

/** Every cgroup hierarchy mounted here ("/sys/fs/cgroup/memory", or "/sys/fs/cgroup" alone on v2). */
function cgroupMounts(): string[] {
  const mounts = safeRead("/proc/self/mountinfo").split("\n").flatMap((l) => {
    const [pre, post] = l.split(" - ");
    const type = post?.split(" ")[0];
    const at = pre!.split(" ")[4]!;
    // Only the host's own: containers' bind mounts of /sys/fs/cgroup show up here too, under their rootfs.
    return (type === "cgroup" || type === "cgroup2") && (at === "/sys/fs/cgroup" || at.startsWith("/sys/fs/cgroup/")) ? [at] : [];
  });
  return [...new Set(mounts)];
}

/** Top-most directories named after a container id, one or two levels down ("docker/<id>", "system.slice/docker-<id>.scope"). */
function dockerCgroups(): string[] {
  const out: string[] = [];
  for (const mount of cgroupMounts()) {
    const rel = (p: string) => path.relative("/sys/fs/cgroup", p);
    for (const a of safeDirs(mount)) {
      if (CONTAINER_ID.test(a)) {
        out.push(rel(path.join(mount, a)));
        continue;
      }
      for (const b of safeDirs(path.join(mount, a))) if (CONTAINER_ID.test(b)) out.push(rel(path.join(mount, a, b)));
    }
  }
  return out.sort();
}

function safeDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
