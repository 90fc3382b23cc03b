// Copies volumes into other volumes with one short-lived container (all copies at once: one container
// start, not one per volume). tar keeps owners, modes, device nodes and extended attributes (a node's
// own Docker keeps overlay whiteouts and opaque markers in them), so the copy boots like the original.
// The helper carries the instance's labels: a kill mid-copy leaves nothing a sweep would not find.
import type Docker from "dockerode";
import { ActionFailed } from "../../errors.ts";
import { hostConfigFor, type SystemdRecipe } from "./systemd.ts";

export interface HelperJob {
  /** An image with sh and GNU tar (the box's, or a snapshot of it). */
  image: string;
  recipe: SystemdRecipe;
  labels: Record<string, string>;
  copies: { from: string; to: string }[];
  /** "snapshot base of faults-debian-12", for errors. */
  what: string;
}

export async function runHelper(d: Docker, job: HelperJob): Promise<void> {
  const tar = "tar --numeric-owner --xattrs --xattrs-include='*' --acls";
  const script = job.copies
    .map((_, i) => `${tar} -C /from/${i} -cf - . | ${tar} -C /to/${i} -xpf - || { echo "copy ${i} failed"; exit 1; }`)
    .join("\n");
  // The box's recipe grants what writing trusted.* attributes and device nodes needs; no cgroup bind, no tmpfs.
  const { Binds: _cgroup, Tmpfs: _tmpfs, ...rights } = hostConfigFor(job.recipe);
  const binds = job.copies.flatMap((c, i) => [`${c.from}:/from/${i}:ro`, `${c.to}:/to/${i}`]);
  const c = await d.createContainer({
    Image: job.image,
    Entrypoint: ["/bin/sh", "-c"],
    Cmd: [script],
    Labels: { ...job.labels, "galley.helper": "volume-copy" },
    HostConfig: { ...rights, Binds: binds, NetworkMode: "none" },
  });
  try {
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    if (StatusCode !== 0) {
      const log = (await c.logs({ stdout: true, stderr: true })).toString("utf8").replace(/[\x00-\x08]/g, "").trim().split("\n").slice(-10).join("\n");
      const list = job.copies.map((x, i) => `  ${i}: volume ${x.from} → volume ${x.to}`).join("\n");
      throw new ActionFailed(`${job.what}: copying volumes failed (exit ${StatusCode}):\n${list}\n${log}`);
    }
  } finally {
    await c.remove({ force: true, v: true }).catch(() => {});
  }
}

