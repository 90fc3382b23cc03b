// A VM box definition → a libvirt Vagrant box in Galley's VAGRANT_HOME, cached like the Docker image:
// the box name carries the definition's hash (galley-<name>-<hash>), so it is built and added once
// and rebuilt only when box.yml, its base's box.yml or customize.sh change. A libvirt box is a tarball
// of box.img, metadata.json and a Vagrantfile. The kernel, initrd and the key of user vagrant stay in
// Galley's cache beside it (QEMU gets the kernel and initrd from the storage pool, see libvirt.ts).
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import lockfile from "proper-lockfile";
import { cacheDir } from "../../util/cache.ts";
import { task } from "../../util/ui.ts";
import { must } from "./command.ts";
import { buildVmImage, type VmBox } from "./image.ts";
import { vagrant, vagrantHome, vagrantMaybe } from "./vagrant.ts";

export interface VagrantBox {
  name: string;
  kernel: string;
  initrd: string;
  privateKey: string;
}

/**
 * Galley's boxes have one version: the hash in the name already changes with the definition. A
 * version (rather than none) gives the box's volume in the storage pool a name known in advance.
 */
export const BOX_VERSION = "1";

/**
 * The volume vagrant-libvirt looks for in the pool before it uploads a box image (its
 * HandleBoxImage.get_volume_name). Galley copies box.img there itself: vagrant-libvirt's upload
 * streams it through libvirt in small chunks (over 2 minutes for 700 MB here), a copy takes seconds.
 */
export function boxVolumeName(boxName: string, version = BOX_VERSION): string {
  return `${boxName.replace(/\//g, "-VAGRANTSLASH-")}_vagrant_box_image_${version}_box.img`;
}

/** box.img of an added box, wherever this Vagrant keeps it (boxes/NAME/VERSION[/ARCH]/libvirt/). */
export function boxImageOf(boxName: string): string | undefined {
  const walk = (dir: string, depth: number): string | undefined => {
    if (!existsSync(dir) || depth > 4) return undefined;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isFile() && e.name === "box.img" && path.basename(dir) === "libvirt") return p;
      if (e.isDirectory()) {
        const found = walk(p, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(path.join(vagrantHome(), "boxes", boxName.replace(/\//g, "-VAGRANTSLASH-"), BOX_VERSION), 0);
}

const filesDir = (boxName: string) => cacheDir("vagrant", "box-files", boxName);

function filesOf(boxName: string): VagrantBox {
  const dir = filesDir(boxName);
  return { name: boxName, kernel: path.join(dir, "vmlinuz"), initrd: path.join(dir, "initrd.img"), privateKey: path.join(dir, "vagrant_key") };
}

/** Added to Vagrant (its folder in VAGRANT_HOME/boxes) and its files complete. */
function present(boxName: string): boolean {
  const f = filesOf(boxName);
  return Boolean(boxImageOf(boxName)) && [f.kernel, f.initrd, f.privateKey, path.join(filesDir(boxName), "added")].every((p) => existsSync(p));
}

export async function ensureVagrantBox(box: VmBox): Promise<VagrantBox> {
  if (present(box.boxName)) return filesOf(box.boxName);
  const lockDir = cacheDir("boxes");
  mkdirSync(lockDir, { recursive: true });
  const release = await lockfile.lock(path.join(lockDir, box.boxName), {
    realpath: false,
    lockfilePath: path.join(lockDir, `${box.name}.vagrant.lock`),
    stale: 30_000,
    retries: { retries: 1200, minTimeout: 1000, maxTimeout: 1000 },
  });
  try {
    if (!present(box.boxName)) {
      await task(`build VM box ${box.name} (once; cached as Vagrant box ${box.boxName})`, async (progress) => {
        const out = filesDir(box.boxName);
        rmSync(out, { recursive: true, force: true });
        await buildVmImage(box, out, progress, async (image) => {
          progress("packaging the box");
          const work = path.dirname(image.disk);
          const gib = Math.ceil(/G$/.test(box.diskSize) ? parseInt(box.diskSize) : parseInt(box.diskSize) / 1024);
          writeFileSync(path.join(work, "metadata.json"), JSON.stringify({ provider: "libvirt", format: "qcow2", virtual_size: gib }) + "\n");
          writeFileSync(
            path.join(work, "Vagrantfile"),
            `# ${box.boxName}: built by Galley from ${box.dir}. It has no bootloader: the kernel and initrd\n` +
              `# are passed to QEMU (lv.kernel, lv.initrd, lv.cmd_line), see Galley's generated Vagrantfiles.\n`,
          );
          const boxFile = path.join(work, `${box.boxName}.box`);
          await must("tar", ["-cf", boxFile, "-C", work, "box.img", "metadata.json", "Vagrantfile"]);
          rmSync(image.disk, { force: true });
          // A one-version catalogue, so the box has a version (see BOX_VERSION).
          const catalogue = path.join(work, "catalogue.json");
          writeFileSync(catalogue, JSON.stringify({
            name: box.boxName,
            description: `Galley VM box ${box.name} (${box.dir})`,
            versions: [{ version: BOX_VERSION, providers: [{ name: "libvirt", url: pathToFileURL(boxFile).href }] }],
          }) + "\n");
          progress("vagrant box add");
          await vagrant(["box", "add", "--force", catalogue], { what: `adding box ${box.boxName} to Vagrant` });
          writeFileSync(path.join(out, "added"), new Date().toISOString() + "\n");
        });
        await removeOlderBoxes(box);
      });
    }
  } finally {
    await release();
  }
  return filesOf(box.boxName);
}

/** Boxes of earlier definitions of the same box (other hashes): out of Vagrant and the cache. */
async function removeOlderBoxes(box: VmBox): Promise<void> {
  const older = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []).filter((n) => n.startsWith(`galley-${box.name}-`) && /^[0-9a-f]{12}$/.test(n.slice(`galley-${box.name}-`.length)) && n !== box.boxName);
  for (const name of older(path.join(vagrantHome(), "boxes"))) await vagrantMaybe(["box", "remove", "--force", "--all", name]);
  for (const name of older(cacheDir("vagrant", "box-files"))) rmSync(filesDir(name), { recursive: true, force: true });
}
