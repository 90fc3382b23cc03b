// VM images from box definitions, built offline-capable and without a bootloader: mmdebstrap makes the
// rootfs (with a kernel and a small initramfs), `mkfs.ext4 -d` turns it into a disk with no loop
// device, `qemu-img convert` into the qcow2 a libvirt box holds. The kernel and initrd are kept beside
// it: QEMU boots them directly (root is the whole disk, /dev/vda).
//
// A VM box may name a `base` (a Docker box folder): its distribution, mirror, packages and masked
// units are reused, so the VM runs what the containers run. The base's customize.sh is not: it is
// about containers. The VM box's own customize.sh runs instead.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { EnvironmentError, UserError } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { removeOnExit } from "../../util/temp-dirs.ts";
import { hostDebianMirror, loadBox } from "../docker/box.ts";
import { must } from "./command.ts";

const VmBoxDefinition = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/),
  /** A Docker box folder (relative to this one) whose distribution, mirror, packages and masked units are reused. */
  base: z.string().optional(),
  /** Debian code name; required without a base. */
  distribution: z.string().optional(),
  mirror: z.string().optional(),
  /** Added to the base's packages: what a machine needs that a container does not (a kernel). */
  packages: z.array(z.string()).default([]),
  masked: z.array(z.string()).default([]),
  /** Modules the initramfs loads to find the root disk; a short list keeps the initramfs small. */
  initramfs_modules: z.array(z.string()).default(["virtio_pci", "virtio_blk"]),
  /** Size of the root disk (sparse: only what is used takes space). */
  disk_size: z.string().regex(/^\d+[MG]$/, { message: "expected a size like 4G or 2048M" }).default("4G"),
});

export interface VmBox {
  /** The Vagrant box name, unique per definition: galley-<name>-<hash>. */
  boxName: string;
  name: string;
  dir: string;
  hash: string;
  distribution: string;
  mirror?: string;
  packages: string[];
  masked: string[];
  initramfsModules: string[];
  diskSize: string;
}

// Bump when the build steps below change, so cached VM boxes are rebuilt.
const BUILDER_VERSION = "vm-2";

export function loadVmBox(dir: string): VmBox {
  const file = path.join(dir, "box.yml");
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  const parsed = VmBoxDefinition.safeParse(raw);
  if (!parsed.success) {
    throw new UserError(parsed.error.issues.map((i) => `${file}: ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n"));
  }
  const def = parsed.data;
  const hash = createHash("sha256").update(BUILDER_VERSION);
  let base: ReturnType<typeof loadBox>["definition"] | undefined;
  if (def.base) {
    const baseDir = path.resolve(dir, def.base);
    if (!existsSync(path.join(baseDir, "box.yml"))) throw new UserError(`${file}: base: no box.yml in ${baseDir}`);
    base = loadBox(baseDir).definition;
    hash.update("base").update(readFileSync(path.join(baseDir, "box.yml")));
  }
  const distribution = def.distribution ?? base?.distribution;
  if (!distribution) throw new UserError(`${file}: distribution: required when there is no base`);
  for (const f of ["box.yml", "customize.sh"]) {
    if (existsSync(path.join(dir, f))) hash.update(f).update(readFileSync(path.join(dir, f)));
  }
  const h = hash.digest("hex").slice(0, 12);
  return {
    boxName: `galley-${def.name}-${h}`,
    name: def.name,
    dir,
    hash: h,
    distribution,
    mirror: def.mirror ?? base?.mirror,
    packages: [...new Set([...(base?.packages ?? []), ...def.packages])],
    masked: [...new Set([...(base?.masked ?? []), ...def.masked])],
    initramfsModules: def.initramfs_modules,
    diskSize: def.disk_size,
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
 * The contract between the image and the Vagrant driver, applied in the rootfs before the box's own
 * customize.sh: user vagrant with the box key and password-less sudo (what Vagrant expects of any
 * box), the whole disk as root, eth0 by DHCP (management) and eth1 from the kernel's ip= (the nodes'
 * network), no machine id (each node makes its own at first boot).
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
  const logFile = cacheDir("boxes", `${box.name}.log`);
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
      "--variant=minbase",
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
    const customize = path.join(box.dir, "customize.sh");
    const script = [
      CONTRACT,
      existsSync(customize) ? readFileSync(customize, "utf8") : "",
      ...box.masked.map((s) => `systemctl mask ${s.includes(".") ? s : `${s}.service`}`),
      "apt-get clean",
      "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/* /var/log/*.log",
    ].join("\n");
    const pub = readFileSync(`${privateKey}.pub`, "utf8").trim();
    await must("chroot", [rootfs, "/usr/bin/env", `GALLEY_BOX_KEY=${pub}`, "/bin/bash", "-c", script], { what: `customizing VM box ${box.name}`, onLine: log });

    const boot = path.join(rootfs, "boot");
    const newest = (prefix: string) => readdirSync(boot).filter((f) => f.startsWith(prefix)).sort().pop();
    const vmlinuz = newest("vmlinuz-");
    const initrd = newest("initrd.img-");
    if (!vmlinuz || !initrd) throw new UserError(`${box.dir}/box.yml: the image has no kernel or initrd in /boot: add linux-image-cloud-amd64 and initramfs-tools to packages`);
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
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(dir + "/"));
  for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
}
