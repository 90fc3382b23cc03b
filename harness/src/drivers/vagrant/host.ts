// The host side of VMs: libvirtd must answer (started here when no systemd runs the machine, as in
// containers and CI runners), and QEMU must use KVM where KVM really works and TCG elsewhere. /dev/kvm
// existing proves nothing: on some hosts it exists and a guest kernel hangs on it (no vmx/svm, or a
// KVM that only runs specially built guests), so the probe boots the box's own kernel under KVM.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import lockfile from "proper-lockfile";
import { EnvironmentError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { must, runCommand } from "./command.ts";

export const LIBVIRT_URI = "qemu:///system";

/** Starts libvirtd (and virtlogd, which QEMU's logs go through) when they do not answer yet. */
export async function ensureLibvirtd(): Promise<void> {
  if (await libvirtdAnswers()) return;
  if (existsSync("/run/systemd/system")) {
    await must("systemctl", ["start", "virtlogd", "libvirtd"], { what: "starting libvirtd" });
  } else {
    // No systemd (a container, a CI runner): the daemons fork into the background themselves.
    for (const daemon of ["virtlogd", "libvirtd"]) {
      const running = spawnSync("pgrep", ["-x", daemon]).status === 0;
      if (!running) await must(daemon, ["-d"], { what: `starting ${daemon}` });
    }
  }
  for (let i = 0; i < 50; i++) {
    if (await libvirtdAnswers()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new EnvironmentError(`libvirtd was started but \`virsh -c ${LIBVIRT_URI} uri\` still fails; see its log (journalctl -u libvirtd, or /var/log/libvirt/)`);
}

async function libvirtdAnswers(): Promise<boolean> {
  return (await runCommand("virsh", ["-c", LIBVIRT_URI, "uri"], { timeoutMs: 10_000 })).code === 0;
}

/** The controllers libvirt puts a domain's cgroup in (cgroup v1), under its partition /machine. */
const LIBVIRT_CONTROLLERS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "net_cls", "perf_event"];

/**
 * On cgroup v1 without systemd, libvirt makes its /machine partition itself when a domain starts, and
 * three domains started at once race for it: one fails with "Failed to create v1 controller cpu for
 * group: No such file or directory" (seen on the first `vagrant up --parallel` after a host boot).
 * Made here first, the race is gone; cpuset's copy gets its parent's CPUs and memory nodes, as libvirt
 * would give it (an empty cpuset cannot hold a process).
 */
export function ensureMachinePartition(mountinfo = "/proc/self/mountinfo"): string[] {
  if (existsSync("/run/systemd/system")) return []; // machined makes machine.slice
  const made: string[] = [];
  for (const line of readFileSync(mountinfo, "utf8").split("\n")) {
    const [before, after] = line.split(" - ");
    const [fstype, , superOptions] = (after ?? "").split(" ");
    if (fstype !== "cgroup") continue;
    const mountPoint = before!.split(" ")[4]!;
    const controllers = (superOptions ?? "").split(",").filter((o) => LIBVIRT_CONTROLLERS.includes(o));
    if (!controllers.length) continue;
    const dir = path.join(mountPoint, "machine");
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw err;
    }
    if (controllers.includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(path.join(dir, f), readFileSync(path.join(mountPoint, f), "utf8"));
    }
    made.push(dir);
  }
  return made;
}

export interface Accelerator {
  accel: "kvm" | "tcg";
  /** Why: shown once per run, kept in the cache. */
  reason: string;
}

/**
 * KVM when a guest kernel boots on it, else TCG. The answer is cached per host boot (KVM does not
 * come and go while the machine runs). GALLEY_ACCEL=kvm|tcg overrides the probe.
 */
export async function chooseAccelerator(kernel: string | undefined): Promise<Accelerator> {
  const forced = process.env.GALLEY_ACCEL;
  if (forced === "kvm" || forced === "tcg") return { accel: forced, reason: "GALLEY_ACCEL" };
  const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  const cache = cacheDir("hosts", `accel-${bootId}.json`);
  try {
    return JSON.parse(readFileSync(cache, "utf8")) as Accelerator;
  } catch {
    /* not probed since this boot */
  }
  const result = await probeKvm(kernel);
  // A probe without the box kernel is weaker: do not keep it, so the first Galley box re-probes.
  if (kernel) {
    mkdirSync(path.dirname(cache), { recursive: true });
    writeFileSync(cache, JSON.stringify(result) + "\n");
  }
  return result;
}

/** How long a kernel may take to reach its panic under KVM (TCG needs under 2 s on a loaded 2-core host). */
const KVM_PROBE_TIMEOUT_MS = 15_000;

export async function probeKvm(kernel: string | undefined): Promise<Accelerator> {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { accel: "tcg", reason: "/dev/kvm is missing or not accessible" };
  }
  if (!kernel) {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
    return / (vmx|svm)( |$)/.test(flags)
      ? { accel: "kvm", reason: "/dev/kvm is usable and the CPU has vmx/svm (no kernel to boot-test)" }
      : { accel: "tcg", reason: "the CPU exposes no vmx/svm" };
  }
  // The kernel has no root disk, so it panics at once; panic=-1 reboots and -no-reboot makes QEMU exit 0.
  const r = await runCommand("qemu-system-x86_64", [
    "-accel", "kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-display", "none", "-no-reboot",
    "-serial", "stdio", "-kernel", kernel, "-append", "console=ttyS0 panic=-1 root=/dev/galley-probe",
  ], { timeoutMs: KVM_PROBE_TIMEOUT_MS });
  if (r.code === 0 && /Kernel panic|VFS/.test(r.stdout)) return { accel: "kvm", reason: "a kernel boots under KVM" };
  const why = r.code === 124
    ? `a kernel did not boot under KVM within ${KVM_PROBE_TIMEOUT_MS / 1000} s`
    : `QEMU with KVM failed (exit ${r.code}: ${(r.stderr.trim().split("\n").pop() ?? "").slice(0, 160)})`;
  return { accel: "tcg", reason: why };
}

/**
 * One Galley process at a time changes what instances share in libvirt: the storage pool, the box
 * volumes in it and libvirt's firewall chains. A create holds it until its domains exist (they then
 * keep the box volumes in use); a destroy only tries it, and leaves shared things to whoever holds it.
 */
export async function lockHost(o: { wait: boolean }): Promise<(() => Promise<void>) | undefined> {
  const dir = cacheDir("vagrant");
  mkdirSync(dir, { recursive: true });
  try {
    return await lockfile.lock(path.join(dir, "libvirt"), {
      realpath: false,
      lockfilePath: path.join(dir, "libvirt.lock"),
      stale: 30_000,
      retries: o.wait ? { retries: 600, minTimeout: 1000, maxTimeout: 1000 } : 0,
    });
  } catch (err) {
    if (!o.wait && (err as { code?: string }).code === "ELOCKED") return undefined;
    throw err;
  }
}
