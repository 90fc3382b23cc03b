// VM images from box definitions, built without a bootloader: mmdebstrap makes the rootfs (with a
// kernel and a small initramfs), `mkfs.ext4 -d` turns it into a disk with no loop device, `qemu-img
// convert` into the qcow2 a libvirt box holds. The kernel and initrd are kept beside it: QEMU boots them
// directly (root is the whole disk, /dev/vda).
//
// A VM is made from the same box.yml as a Docker node (boxes/definition.ts): the chain's release,
// variant and mirror, every box's packages, masks and customize.sh (base first), then the VM layer
// below (a kernel, Vagrant's contract, and the units a container box masks but a machine needs).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { boxHash, unitName, type Box } from "../../boxes/definition.ts";
import { hostDebianMirror } from "../../boxes/mirror.ts";
import { SSH_HOST_KEYS_SETUP } from "../../boxes/ssh-host-keys.ts";
import { EnvironmentError, UserError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { must } from "./command.ts";

export interface VmBox {
  /** The Vagrant box name, unique per definition chain and VM layer: galley-<name>-<hash>. */
  boxName: string;
  name: string;
  /** box.yml's folder (for messages). */
  dir: string;
  hash: string;
  distribution: string;
  variant: "minbase" | "buildd";
  mirror?: string;
  packages: string[];
  masked: string[];
  /** customize.sh of every box in the chain, base first. */
  customizeScripts: string[];
  initramfsModules: string[];
  diskSize: string;
}

/** What a machine needs that a container does not: a kernel, its initramfs, AppArmor's parser (Docker
 * loads its profile on a Debian kernel), and the node's own name without /etc/hosts (sudo asks). */
export const VM_PACKAGES = ["linux-image-cloud-amd64", "initramfs-tools", "libnss-myhostname", "apparmor"];
/** The cloud kernel builds virtio as modules: the initramfs needs these (and only these) to find the root disk. */
export const INITRAMFS_MODULES = ["virtio_pci", "virtio_blk", "virtio_net"];
/** The root disk (sparse: only what is used takes space). */
export const DISK_SIZE = "4G";

/**
 * Run after the boxes' own customize.sh: units Galley's container boxes mask because a container cannot
 * run them (debian-12's customize.sh) come back, as a machine needs them; what a VM without GPU, FUSE,
 * device mapper or EFI never uses is masked (seconds each under TCG, where every second counts three
 * times: three nodes on two cores). SSH host keys (made per node at first boot, as in a container box):
 * ed25519 and ECDSA only (an RSA key alone took 15 s under TCG).
 */
export const VM_LAYER = `${SSH_HOST_KEYS_SETUP}
systemctl unmask systemd-remount-fs.service systemd-modules-load.service sys-kernel-config.mount \
  sys-kernel-debug.mount sys-kernel-tracing.mount systemd-networkd.service systemd-networkd.socket
mkdir -p /etc/systemd/system/galley-ssh-host-keys.service.d
cat > /etc/systemd/system/galley-ssh-host-keys.service.d/galley-vm.conf <<'UNIT'
[Service]
ExecStart=
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
ExecStart=/usr/bin/ssh-keygen -q -t ecdsa -N "" -f /etc/ssh/ssh_host_ecdsa_key
UNIT
systemctl mask e2scrub_reap.service modprobe@drm.service modprobe@efi_pstore.service \
  modprobe@dm_mod.service modprobe@fuse.service modprobe@loop.service
`;

// Bump when the build steps below change, so cached VM boxes are rebuilt.
const BUILDER_VERSION = "vm-3";

/** The VM layer's fingerprint: a change to it (or to the build) rebuilds every VM box. */
function vmLayerSalt(): string {
  const h = createHash("sha256").update(BUILDER_VERSION).update(CONTRACT).update(VM_LAYER);
  h.update(VM_PACKAGES.join(",")).update(INITRAMFS_MODULES.join(",")).update(DISK_SIZE);
  return `vagrant-${h.digest("hex").slice(0, 12)}`;
}

/**
 * The VM box of a box definition. A box that adds nothing to its parent's system (only settings, such
 * as nested_docker) shares its parent's VM box, as it shares its Docker image.
 */
export function vmBoxOf(box: Box): VmBox {
  if (box.parent && !box.addsToParent) return vmBoxOf(box.parent);
  const chain: Box[] = [];
  for (let b: Box | undefined = box; b; b = b.parent) chain.unshift(b);
  const base = box.base;
  if (base.kind !== "debootstrap") {
    throw new UserError(`${path.join(box.dir, "box.yml")}: from: ${base.from} is a container image; the vagrant driver builds VM boxes from Debian releases only (distribution:), or use a platform's vagrant_box`);
  }
  const hash = boxHash(box, vmLayerSalt());
  return {
    boxName: `galley-${box.name}-${hash}`,
    name: box.name,
    dir: box.dir,
    hash,
    distribution: base.distribution,
    // mmdebstrap has no fakechroot variant (it is a mode there): such a box is built as minbase.
    variant: base.variant === "buildd" ? "buildd" : "minbase",
    mirror: base.mirror,
    packages: [...new Set([...chain.flatMap((b) => b.definition.packages), ...VM_PACKAGES])],
    masked: [...new Set(chain.flatMap((b) => b.definition.masked))],
    customizeScripts: chain.flatMap((b) => (b.customizeScript ? [b.customizeScript] : [])),
    initramfsModules: INITRAMFS_MODULES,
    diskSize: DISK_SIZE,
  };
}

/** What a build leaves: the disk and what QEMU and Vagrant need beside it. */
export interface VmImage {
  disk: string;
  kernel: string;
  initrd: string;
  /** Private key of user vagrant in this image (the public half is baked in). */
  privateKey: string;
}

/**
 * The contract between the image and the Vagrant driver, applied in the rootfs after the boxes'
 * customize.sh and the VM layer: user vagrant with the box key and password-less sudo (what Vagrant
 * expects of any box), the whole disk as root, eth0 by DHCP (management) and eth1 from the kernel's
 * ip= (the nodes' network), no machine id (each node makes its own at first boot).
 */
const CONTRACT = `
set -eux
id vagrant >/dev/null 2>&1 || useradd -m -s /bin/bash vagrant
install -d -m 700 -o vagrant -g vagrant /home/vagrant/.ssh
printf '%s\\n' "$GALLEY_BOX_KEY" > /home/vagrant/.ssh/authorized_keys
chown vagrant:vagrant /home/vagrant/.ssh/authorized_keys
chmod 600 /home/vagrant/.ssh/authorized_keys
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/vagrant
chmod 440 /etc/sudoers.d/vagrant
echo '/dev/vda / ext4 defaults,noatime 0 1' > /etc/fstab
systemctl enable systemd-networkd.service
# network-online.target must not wait for every interface (nothing here needs the outside world).
systemctl mask systemd-networkd-wait-online.service
mkdir -p /etc/systemd/network
cat > /etc/systemd/network/99-galley-management.network <<'NET'
# Galley: the management network (Vagrant's and Galley's SSH) by DHCP.
[Match]
Name=eth0
[Network]
DHCP=ipv4
NET
# systemd-network-generator writes 90-eth1.network from the kernel's ip=; pulling the cable (a
# partition) must not remove the node's address, as it would not on a server with a static one.
mkdir -p /etc/systemd/network/90-eth1.network.d
cat > /etc/systemd/network/90-eth1.network.d/galley.conf <<'NET'
[Network]
ConfigureWithoutCarrier=yes
IgnoreCarrierLoss=yes
NET
rm -f /etc/hostname /etc/machine-id /var/lib/dbus/machine-id
`;

/**
 * Builds the image into a temporary folder, hands it to `use` (which packages it), then removes the
 * folder. Kernel, initrd and key go to `outDir` and stay.
 */
export async function buildVmImage(box: VmBox, outDir: string, progress: (t: string) => void, use: (image: VmImage) => Promise<void>): Promise<void> {
  if (process.getuid?.() !== 0) throw new EnvironmentError("building a VM box runs mmdebstrap and chroot, which need root: run galley as root once to build it");
  const logFile = cacheDir("boxes", `${box.name}.vm.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logStream = createWriteStream(logFile);
  const log = (l: string) => logStream.write(l + "\n");
  mkdirSync(cacheDir("tmp"), { recursive: true });
  // We hold this box's build lock: any rootfs of it in tmp/ is a killed build's.
  for (const stale of readdirSync(cacheDir("tmp")).filter((f) => f.startsWith(`vmbox-${box.name}-`))) removeTree(path.join(cacheDir("tmp"), stale));
  const work = mkdtempSync(path.join(cacheDir("tmp"), `vmbox-${box.name}-`));
  const rootfs = path.join(work, "rootfs");
  const forget = removeOnExit(work, () => unmountUnder(work));
  try {
    mkdirSync(outDir, { recursive: true });
    const privateKey = path.join(outDir, "vagrant_key");
    rmSync(privateKey, { force: true });
    rmSync(`${privateKey}.pub`, { force: true });
    // PEM RSA: every SSH client Vagrant may bring reads it.
    await must("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", box.boxName, "-f", privateKey]);

    const mirror = box.mirror ?? hostDebianMirror();
    // Written before the packages are installed, so the kernel's initramfs is built once, small.
    const initramfsHook = [
      'mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"',
      `echo MODULES=list > "$1/etc/initramfs-tools/conf.d/galley"`,
      `printf '%s\\n' ${box.initramfsModules.map((m) => `'${m}'`).join(" ")} > "$1/usr/share/initramfs-tools/modules.d/galley"`,
    ].join(" && ");
    let packagesSeen = 0;
    progress("mmdebstrap");
    await must("mmdebstrap", [
      `--variant=${box.variant}`,
      "--mode=root",
      `--include=${box.packages.join(",")}`,
      `--essential-hook=${initramfsHook}`,
      box.distribution,
      rootfs,
      ...(mirror ? [mirror] : []),
    ], {
      what: `building VM box ${box.name}`,
      onLine: (l) => {
        log(l);
        if (/^(Get|Setting up|Unpacking) /.test(l)) progress(`mmdebstrap: ${++packagesSeen} steps (${l.slice(0, 50)})`);
      },
      timeoutMs: 30 * 60_000,
    });

    progress("customizing");
    const script = [
      "set -eux",
      ...box.customizeScripts.map((f) => `# ${f}\n${readFileSync(f, "utf8")}`),
      // set -e again: a customize.sh may have turned it off.
      "set -eux",
      VM_LAYER,
      CONTRACT,
      ...box.masked.map((s) => `systemctl mask ${unitName(s)}`),
      "apt-get clean",
      "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/log/*.log",
    ].join("\n");
    const pub = readFileSync(`${privateKey}.pub`, "utf8").trim();
    await must("chroot", [rootfs, "/usr/bin/env", `GALLEY_BOX_KEY=${pub}`, "/bin/bash", "-c", script], { what: `customizing VM box ${box.name}`, onLine: log });

    const boot = path.join(rootfs, "boot");
    const newest = (prefix: string) => readdirSync(boot).filter((f) => f.startsWith(prefix)).sort().pop();
    const vmlinuz = newest("vmlinuz-");
    const initrd = newest("initrd.img-");
    if (!vmlinuz || !initrd) throw new UserError(`${box.dir}/box.yml: the VM image has no kernel or initrd in /boot (mmdebstrap installed ${VM_PACKAGES.join(", ")}: see ${logFile})`);
    const kernel = path.join(outDir, "vmlinuz");
    const initrdOut = path.join(outDir, "initrd.img");
    await must("cp", [path.join(boot, vmlinuz), kernel]);
    await must("cp", [path.join(boot, initrd), initrdOut]);

    progress("making the disk");
    const raw = path.join(work, "disk.raw");
    await must("truncate", ["-s", box.diskSize, raw]);
    await must("mkfs.ext4", ["-q", "-L", "root", "-d", rootfs, raw], { what: `making the disk of ${box.name}` });
    removeTree(rootfs);
    const disk = path.join(work, "box.img");
    await must("qemu-img", ["convert", "-O", "qcow2", raw, disk]);
    rmSync(raw, { force: true });
    await use({ disk, kernel, initrd: initrdOut, privateKey });
  } finally {
    logStream.end();
    removeTree(work);
    forget();
  }
}

function removeTree(dir: string): void {
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(dir + "/"));
  for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
}
