// The Vagrant driver's pure parts: the Vagrantfile it writes (checked by Ruby itself where Ruby is
// installed, as it is wherever Vagrant is), `vagrant ssh-config` parsing, address planning, names,
// VM box definitions, and the configuration rules that come with the driver.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { boxVolumeName } from "../../src/drivers/vagrant/box-package.ts";
import { ensureMachinePartition } from "../../src/drivers/vagrant/host.ts";
import { loadBox } from "../../src/boxes/definition.ts";
import { vmBoxOf, VM_LAYER, VM_PACKAGES } from "../../src/drivers/vagrant/image.ts";
import { domainName, instancePrefix, isGalleyName, networkNames } from "../../src/drivers/vagrant/names.ts";
import { nodeAddress, pickSubnets } from "../../src/drivers/vagrant/network.ts";
import { parseSshConfig } from "../../src/drivers/vagrant/vagrant.ts";
import { kernelCommandLine, renderVagrantfile, rubyString, type VagrantfileSpec } from "../../src/drivers/vagrant/vagrantfile.ts";
import { UserError } from "../../src/errors.ts";

const libvirtSpec = (over: Partial<VagrantfileSpec> = {}): VagrantfileSpec => ({
  instance: "static-debian-12-vm",
  provider: "libvirt",
  box: "galley-debian-12-vm-0123456789ab",
  galleyBox: { kernel: "/pool/k", initrd: "/pool/i", privateKey: "/cache/key" },
  memoryMb: 320,
  cpus: 1,
  bootTimeoutS: 300,
  netmask: "255.255.255.0",
  nodes: [{ name: "infra0", ip: "10.201.3.2" }, { name: "infra1", ip: "10.201.3.3" }],
  libvirt: {
    accel: "tcg",
    emulator: "/var/lib/libvirt/galley/qemu-system-x86_64-tcg",
    prefix: "galley-abcdef_static-debian-12-vm_",
    pool: "galley",
    managementNetwork: { name: "galley-abcdef_static-debian-12-vm_mgmt", address: "10.201.2.0/24" },
    nodesNetwork: "galley-abcdef_static-debian-12-vm_nodes",
    consoleDir: "/var/lib/libvirt/galley/console",
  },
  ...over,
});

/** `ruby -c` on the text: undefined where Ruby is missing, else its verdict. */
function rubySyntax(text: string): string | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), "galley-vagrantfile-"));
  writeFileSync(path.join(dir, "Vagrantfile"), text);
  const r = spawnSync("ruby", ["-c", path.join(dir, "Vagrantfile")], { encoding: "utf8" });
  if (r.error) return undefined;
  return (r.stdout + r.stderr).trim();
}

describe("vagrant driver", () => {
  describe("the Vagrantfile", () => {
    it("gives each node of a Galley box its fixed address and name on the kernel command line, with Vagrant's network step off", () => {
      const text = renderVagrantfile(libvirtSpec());
      expect(text).to.include(`lv.cmd_line = '${kernelCommandLine({ name: "infra1", ip: "10.201.3.3" }, "255.255.255.0")}'`);
      expect(kernelCommandLine({ name: "infra1", ip: "10.201.3.3" }, "255.255.255.0")).to.include("ip=10.201.3.3:::255.255.255.0:infra1:eth1:off systemd.hostname=infra1");
      // A loaded host under TCG made a guest kernel panic in its IO-APIC timer check.
      expect(kernelCommandLine({ name: "infra1", ip: "10.201.3.3" }, "255.255.255.0").split(" ")).to.include("no_timer_check");
      expect(text.match(/auto_config: false/g)).to.have.length(2);
      expect(text).to.include("config.vm.guest = :debian");
      expect(text).to.include("config.ssh.insert_key = false");
      expect(text).to.include(`config.vm.synced_folder ".", "/vagrant", disabled: true`);
      expect(text).to.include(`lv.management_network_mode = "none"`);
      expect(text).to.include(`libvirt__forward_mode: "none"`);
      expect(text).not.to.match(/vm\.hostname/);
    });

    it("under TCG: qemu64 and the emulator wrapper; under KVM: host-passthrough and QEMU itself", () => {
      const tcg = renderVagrantfile(libvirtSpec());
      expect(tcg).to.include(`lv.cpu_model = "qemu64"`).and.to.include("lv.emulator_path = '/var/lib/libvirt/galley/qemu-system-x86_64-tcg'");
      const kvm = renderVagrantfile(libvirtSpec({ libvirt: { ...libvirtSpec().libvirt!, accel: "kvm", emulator: undefined } }));
      expect(kvm).to.include(`lv.driver = "kvm"`).and.to.include(`lv.cpu_mode = "host-passthrough"`);
      expect(kvm).not.to.include("emulator_path").and.not.to.include("qemu64");
    });

    it("an existing box (vagrant_box) gets Vagrant's own network set-up and host name, no kernel", () => {
      const text = renderVagrantfile(libvirtSpec({ box: "generic/rocky9", galleyBox: undefined }));
      expect(text).not.to.include("auto_config").and.not.to.include("lv.kernel").and.not.to.include("cmd_line").and.not.to.include("config.vm.guest");
      expect(text).to.include("node.vm.hostname = 'infra0'");
    });

    it("VirtualBox: the same machines with VirtualBox's settings", () => {
      const text = renderVagrantfile(libvirtSpec({ provider: "virtualbox", galleyBox: undefined, libvirt: undefined, box: "generic/rocky9" }));
      expect(text).to.include("config.vm.provider :virtualbox do |vb|").and.to.include("vb.memory = 320");
      expect(text).not.to.include("libvirt");
      expect(text).to.include("node.vm.network :private_network, ip: '10.201.3.2'");
    });

    it("is valid Ruby, and strings interpolate nothing", function () {
      expect(rubyString(`a'b\\c#{x}`)).to.equal(`'a\\'b\\\\c#{x}'`);
      for (const spec of [libvirtSpec(), libvirtSpec({ box: "it's #{odd}", galleyBox: undefined }), libvirtSpec({ provider: "virtualbox", libvirt: undefined, galleyBox: undefined })]) {
        const verdict = rubySyntax(renderVagrantfile(spec));
        if (verdict === undefined) return this.skip(); // no Ruby here (then there is no Vagrant either)
        expect(verdict).to.equal("Syntax OK");
      }
      // The check can fail: a broken file is reported.
      expect(rubySyntax("Vagrant.configure('2') do |config|\n")).to.match(/syntax error/i);
    });
  });

  it("reads `vagrant ssh-config` for every machine", () => {
    const text = [
      "Host infra0",
      "  HostName 10.239.229.176",
      "  User vagrant",
      "  Port 22",
      "  UserKnownHostsFile /dev/null",
      "  IdentityFile /root/.cache/galley/vagrant/box-files/galley-debian-12-vm-266a4bb90a77/vagrant_key",
      "  IdentitiesOnly yes",
      "",
      "Host infra1",
      "  HostName 10.239.229.128",
      "  User vagrant",
      "  Port 2222",
      '  IdentityFile "/home/a b/key"',
      "",
    ].join("\n");
    expect(parseSshConfig(text)).to.deep.equal({
      infra0: { host: "10.239.229.176", port: 22, user: "vagrant", identityFile: "/root/.cache/galley/vagrant/box-files/galley-debian-12-vm-266a4bb90a77/vagrant_key" },
      infra1: { host: "10.239.229.128", port: 2222, user: "vagrant", identityFile: "/home/a b/key" },
    });
  });

  it("plans two free /24s, the same ones for the same instance, avoiding those the host uses", () => {
    const free = pickSubnets("galley-abcdef_x_", new Set());
    expect(free.management).to.match(/^10\.2[0-5]\d\.\d+$/);
    expect(free.nodes).not.to.equal(free.management);
    expect(pickSubnets("galley-abcdef_x_", new Set())).to.deep.equal(free);
    const avoided = pickSubnets("galley-abcdef_x_", new Set([free.management, free.nodes]));
    expect([avoided.management, avoided.nodes]).not.to.include.members([free.management]).and.not.to.include(free.nodes);
    expect(nodeAddress("10.201.3", 0)).to.equal("10.201.3.2");
  });

  it("names libvirt objects so that no instance's prefix starts another's, and recognises Galley's", () => {
    const a = { instance: "static-debian-12-vm", root: "/r" };
    const b = { instance: "static-debian-12-vm-2", root: "/r" };
    expect(domainName(b, "infra0").startsWith(instancePrefix(a))).to.equal(false);
    expect(networkNames(a).nodes.startsWith(instancePrefix(a))).to.equal(true);
    expect(isGalleyName(domainName(a, "infra0"))).to.equal(true);
    expect(isGalleyName("galley-debian-12-vm-0123456789ab_vagrant_box_image_1_box.img")).to.equal(false);
    expect(isGalleyName("default")).to.equal(false);
    expect(boxVolumeName("generic/rocky9")).to.equal("generic-VAGRANTSLASH-rocky9_vagrant_box_image_1_box.img");
  });

  describe("VM boxes from box definitions", () => {
    const boxes = () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "galley-vmbox-"));
      mkdirSync(path.join(dir, "base"));
      writeFileSync(path.join(dir, "base", "box.yml"), "name: base\ndistribution: bookworm\npackages: [systemd, docker.io]\nmasked: [etcd]\n");
      writeFileSync(path.join(dir, "base", "customize.sh"), "echo base\n");
      mkdirSync(path.join(dir, "web"));
      writeFileSync(path.join(dir, "web", "box.yml"), "extends: ../base\npackages: [lighttpd, docker.io]\nmasked: [lighttpd]\n");
      writeFileSync(path.join(dir, "web", "customize.sh"), "echo web\n");
      mkdirSync(path.join(dir, "settings"));
      writeFileSync(path.join(dir, "settings", "box.yml"), "extends: ../base\nnested_docker: true\n");
      return dir;
    };

    it("take the chain's release, packages, masks and customize.sh (base first), plus a kernel", () => {
      const dir = boxes();
      const box = vmBoxOf(loadBox(path.join(dir, "web")));
      expect(box.distribution).to.equal("bookworm");
      expect(box.variant).to.equal("minbase");
      expect(box.packages).to.deep.equal(["systemd", "docker.io", "lighttpd", ...VM_PACKAGES]);
      expect(box.masked).to.deep.equal(["etcd", "lighttpd"]);
      expect(box.customizeScripts).to.deep.equal([path.join(dir, "base", "customize.sh"), path.join(dir, "web", "customize.sh")]);
      expect(box.boxName).to.match(/^galley-web-[0-9a-f]{12}$/);
    });

    it("a box that only changes settings shares its parent's VM box, as it shares its Docker image", () => {
      const dir = boxes();
      expect(vmBoxOf(loadBox(path.join(dir, "settings"))).boxName).to.equal(vmBoxOf(loadBox(path.join(dir, "base"))).boxName);
    });

    it("change name (hash) when any definition of the chain changes, so the box is rebuilt", () => {
      const dir = boxes();
      const before = vmBoxOf(loadBox(path.join(dir, "web"))).boxName;
      writeFileSync(path.join(dir, "base", "customize.sh"), "echo base changed\n");
      const after = vmBoxOf(loadBox(path.join(dir, "web"))).boxName;
      expect(after).not.to.equal(before);
      writeFileSync(path.join(dir, "base", "box.yml"), "name: base\ndistribution: bookworm\npackages: [systemd, docker.io, curl]\n");
      expect(vmBoxOf(loadBox(path.join(dir, "web"))).boxName).not.to.equal(after);
    });

    it("the repository's fleet-node box (the Docker nodes' box) gives the VM box of debian-12, with etcd masked and Docker baked in", () => {
      const box = vmBoxOf(loadBox(path.resolve(import.meta.dirname, "../../../boxes/fleet-node")));
      expect(box.name).to.equal("debian-12");
      expect(box.packages).to.include.members(["etcd-server", "docker.io", "linux-image-cloud-amd64", "initramfs-tools"]);
      expect(box.masked).to.include("etcd");
      expect(box.customizeScripts.map((f) => path.basename(path.dirname(f)))).to.deep.equal(["debian-12"]);
    });

    it("the VM layer brings back what debian-12's customize.sh masks for containers but a machine needs", () => {
      // Units named on `systemctl <verb>` lines (continuation lines joined).
      const unitsOn = (script: string, verb: string) =>
        script.replace(/\\\n/g, " ").split("\n").filter((l) => l.trim().startsWith(`systemctl ${verb} `)).flatMap((l) => l.split(/\s+/).filter((w) => /\.(service|socket|mount)$/.test(w)));
      const maskedThere = unitsOn(readFileSync(path.resolve(import.meta.dirname, "../../boxes/debian-12/customize.sh"), "utf8"), "mask");
      const unmasked = unitsOn(VM_LAYER, "unmask");
      for (const unit of ["systemd-networkd.service", "systemd-remount-fs.service", "systemd-modules-load.service"]) {
        expect(maskedThere, `debian-12 masks ${unit}`).to.include(unit);
        expect(unmasked, `the VM layer unmasks ${unit}`).to.include(unit);
      }
    });
  });

  it("makes libvirt's /machine cgroup partition in the controllers libvirt uses (cpuset with its parent's CPUs), once", function () {
    if (existsSync("/run/systemd/system")) return this.skip(); // machined's business there
    const root = mkdtempSync(path.join(os.tmpdir(), "galley-cgroups-"));
    for (const c of ["cpu", "cpuset", "pids"]) mkdirSync(path.join(root, c));
    writeFileSync(path.join(root, "cpuset", "cpuset.cpus"), "0-1\n");
    writeFileSync(path.join(root, "cpuset", "cpuset.mems"), "0\n");
    const mountinfo = path.join(root, "mountinfo");
    writeFileSync(mountinfo, [
      `30 25 0:26 / ${root}/cpu rw,nosuid - cgroup cgroup rw,cpu`,
      `31 25 0:27 / ${root}/cpuset rw,nosuid - cgroup cgroup rw,cpuset`,
      `32 25 0:28 / ${root}/pids rw,nosuid - cgroup cgroup rw,pids`,
      `22 1 0:20 / /proc rw - proc proc rw`,
      "",
    ].join("\n"));
    expect(ensureMachinePartition(mountinfo)).to.deep.equal([path.join(root, "cpu", "machine"), path.join(root, "cpuset", "machine")]);
    expect(readFileSync(path.join(root, "cpuset", "machine", "cpuset.cpus"), "utf8")).to.equal("0-1\n");
    expect(readFileSync(path.join(root, "cpuset", "machine", "cpuset.mems"), "utf8")).to.equal("0\n");
    expect(existsSync(path.join(root, "pids", "machine")), "pids is no controller libvirt uses").to.equal(false);
    expect(ensureMachinePartition(mountinfo), "a second call").to.deep.equal([]);
  });

  describe("configuration", () => {
    const scratch = () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "galley-config-"));
      mkdirSync(path.join(dir, "prov"));
      writeFileSync(path.join(dir, "prov", "provision.sh"), "true\n");
      mkdirSync(path.join(dir, "box"));
      writeFileSync(path.join(dir, "box", "box.yml"), "name: x\ndistribution: bookworm\n");
      mkdirSync(path.join(dir, "specs"));
      return path.join(dir, "galley.yml");
    };
    const config = (driver: string, transport: string, platform: string) =>
      `driver: ${driver}\n${transport}provisioner: { name: shell, path: prov }\nverifier: { name: mocha, suites: specs }\nplatforms:\n  - ${platform}\nsuites:\n  - { name: s, nodes: 3 }\n`;
    const errorOf = (text: string) => {
      try {
        parseConfig(text, scratch());
      } catch (err) {
        expect(err).to.be.instanceOf(UserError);
        return (err as Error).message;
      }
      throw new Error("expected the config to be rejected");
    };

    it("accepts the vagrant driver with its keys, and a platform naming an existing box", () => {
      const { config: c } = parseConfig(config("{ name: vagrant, provider: libvirt, memory: 320, cpus: 1, boot_timeout: 5m }", "transport: ssh\n", "{ name: rocky, vagrant_box: generic/rocky9 }"), scratch());
      expect(c.driver).to.deep.equal({ name: "vagrant", provider: "libvirt", memory: 320, cpus: 1, boot_timeout: "5m" });
      expect(c.platforms[0]).to.deep.equal({ name: "rocky", vagrant_box: "generic/rocky9" });
    });

    it("rejects what cannot work, naming the line and key", () => {
      expect(errorOf(config("vagrant", "", "{ name: p, box: box }"))).to.match(/galley\.yml:1: driver: the vagrant driver needs `transport: ssh`/);
      expect(errorOf(config("vagrant", "transport: docker-exec\n", "{ name: p, box: box }"))).to.match(/galley\.yml:2: transport\.name: the vagrant driver needs `transport: ssh`/);
      expect(errorOf(config("docker", "", "{ name: p, vagrant_box: generic/rocky9 }"))).to.match(/platforms\[0\]\.vagrant_box: only the vagrant driver boots Vagrant boxes/);
      expect(errorOf(config("vagrant", "transport: ssh\n", "{ name: p, box: box, vagrant_box: a/b }"))).to.match(/platforms\[0\]\.vagrant_box: give box or vagrant_box, not both/);
      expect(errorOf(config("vagrant", "transport: ssh\n", "{ name: p }"))).to.match(/platforms\[0\]: box is required/);
      expect(errorOf(config("vagrant", "transport: ssh\n", "{ name: p, box: nosuchbox }"))).to.match(/platforms\[0\]\.box: box nosuchbox not found/);
      expect(errorOf(config("{ name: vagrant, provider: hyperv }", "transport: ssh\n", "{ name: p, box: box }"))).to.match(/driver\.provider: .*libvirt.*virtualbox/);
    });
  });
});
