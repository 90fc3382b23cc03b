// Real VMs: `galley test static-debian-12-vm` (fixtures/vm/galley.yml) boots three VMs with Vagrant
// and libvirt (KVM where it works, TCG here), converges the fleet cluster over SSH, runs the four
// suites and destroys it; afterwards libvirt, Vagrant and the firewall hold exactly what they held
// before. Lists are compared unfiltered: every domain, network, pool and volume, every LIBVIRT_*
// chain, every QEMU process, every machine Vagrant knows. The resident memory of each VM's QEMU is
// sampled throughout and must stay under 600 MB.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { cacheDir } from "../../src/util/cache.ts";
import { galley, repo } from "./helpers.ts";

const config = ["--config", "fixtures/vm/galley.yml"];
const instance = "static-debian-12-vm";
const stateDir = path.join(repo, "fixtures", "vm", ".galley", instance);
const MAX_RSS_MB = 600;

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.error ? "" : r.stdout;
};
const virsh = (...args: string[]) => sh("virsh", ["-c", "qemu:///system", ...args]).split("\n").map((l) => l.trim()).filter(Boolean);

/** Everything VMs could leave, on the whole host. */
function vmSnapshot(): string[] {
  const out: string[] = [];
  for (const d of virsh("list", "--all", "--name")) out.push(`domain ${d}`);
  for (const n of virsh("net-list", "--all", "--name")) out.push(`network ${n}`);
  for (const p of virsh("pool-list", "--all", "--name")) {
    out.push(`pool ${p}`);
    for (const v of virsh("vol-list", p).slice(2)) out.push(`volume ${p}/${v.split(/\s+/)[0]}`);
  }
  for (const tool of ["iptables-save", "ip6tables-save"]) {
    let table = "";
    for (const l of sh(tool, []).split("\n")) {
      if (l.startsWith("*")) table = l.slice(1);
      if (/LIBVIRT_/.test(l) && (l.startsWith(":") || l.startsWith("-A"))) out.push(`${tool} ${table} ${l.replace(/\[\d+:\d+\]/, "")}`);
    }
  }
  for (const p of qemuProcesses()) out.push(`process ${p.pid}: ${p.cmd.slice(0, 120)}`);
  const index = path.join(process.env.GALLEY_VAGRANT_HOME ?? cacheDir("vagrant", "home"), "data", "machine-index", "index");
  if (existsSync(index)) for (const id of Object.keys((JSON.parse(readFileSync(index, "utf8")) as { machines: object }).machines ?? {})) out.push(`vagrant machine ${id}`);
  for (const f of [".vagrant", "Vagrantfile"]) if (existsSync(path.join(stateDir, f))) out.push(`file ${path.join(stateDir, f)}`);
  if (existsSync("/var/lib/libvirt/galley")) out.push("folder /var/lib/libvirt/galley");
  for (const dir of ["/var/cache/libvirt/qemu/capabilities", "/var/log/libvirt/qemu", "/var/lib/libvirt/dnsmasq", "/etc/libvirt/qemu", "/etc/libvirt/qemu/networks"]) {
    if (existsSync(dir)) for (const f of readdirSync(dir)) out.push(`file ${dir}/${f}`);
  }
  return out.sort();
}

function qemuProcesses(): { pid: number; cmd: string; rssMb: number }[] {
  const out: { pid: number; cmd: string; rssMb: number }[] = [];
  for (const e of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ");
      if (!/qemu-system/.test(cmd)) continue;
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${e}/status`, "utf8"))?.[1] ?? 0);
      out.push({ pid: Number(e), cmd, rssMb: Math.round(rss / 1024) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe("the vagrant driver (three real VMs under libvirt)", function () {
  let initial: string[];
  before(() => {
    initial = vmSnapshot();
  });
  after(async () => {
    await galley([...config, "destroy", instance]);
  });

  it("galley test static-debian-12-vm passes on three VMs, each under 600 MB resident, and leaves libvirt, Vagrant and the firewall as they were", async () => {
    // Peak resident memory per VM (by domain name), sampled every 2 s while the run goes on.
    const peak: Record<string, number> = {};
    const sampler = setInterval(() => {
      for (const p of qemuProcesses()) {
        const vm = /guest=([^,\s]+)/.exec(p.cmd)?.[1];
        if (vm?.includes(`_${instance}_`)) peak[vm] = Math.max(peak[vm] ?? 0, p.rssMb);
      }
    }, 2000);
    let r;
    try {
      r = await galley([...config, "test", instance]);
    } finally {
      clearInterval(sampler);
    }
    const log = path.join(stateDir, "galley.log");
    expect(r.code, `${r.stderr}\n(log: ${log})`).to.equal(0);
    expect(r.stderr).to.match(/11 checks passed on static-debian-12-vm/);
    const accel = /accelerator: (\w+) \(([^)]*)\)/.exec(readFileSync(log, "utf8"))?.slice(1);
    const steps = r.stderr.split("\n").filter((l) => /^✓ /.test(l)).map((l) => l.slice(2)).join("; ");
    process.stderr.write(`      [vm] ${accel?.[0]} (${accel?.[1]}); galley test ${(r.ms / 1000).toFixed(0)} s: ${steps}\n      [vm] peak RSS per VM (MB): ${JSON.stringify(peak)}\n`);
    expect(Object.keys(peak), "VMs seen running").to.have.length(3);
    for (const [vm, mb] of Object.entries(peak)) expect(mb, `peak resident memory of ${vm} (MB)`).to.be.below(MAX_RSS_MB);
    expect(vmSnapshot(), "libvirt, Vagrant, firewall and QEMU processes after the run").to.deep.equal(initial);
  });

  // The fault suites on VMs (crash = virsh destroy, stop/start, isolate/rejoin = link down/up) take
  // several more minutes of three emulated CPUs on two cores: run with GALLEY_E2E_VM_FAULTS=1.
  it("galley test faults-debian-12-vm: the fault suites pass on VMs and leave nothing behind (GALLEY_E2E_VM_FAULTS=1)", async function () {
    if (!process.env.GALLEY_E2E_VM_FAULTS) return this.skip();
    const r = await galley([...config, "test", "faults-debian-12-vm", "--destroy", "always"]);
    const log = path.join(repo, "fixtures", "vm", ".galley", "faults-debian-12-vm", "galley.log");
    expect(r.code, `${r.stderr}\n(log: ${log})`).to.equal(0);
    expect(r.stderr).to.match(/checks passed on faults-debian-12-vm/).and.to.match(/fault: crash/i);
    process.stderr.write(`      [vm] galley test faults-debian-12-vm ${(r.ms / 1000).toFixed(0)} s\n`);
    expect(vmSnapshot(), "after the fault run").to.deep.equal(initial);
  });
});
