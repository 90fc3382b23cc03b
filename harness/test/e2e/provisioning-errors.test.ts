// Provisioning errors are fatal: when a step cannot do its job, `galley converge` fails (exit 10) naming
// the node, the step and the cause, and the step reports no change. An etcd artifact without binaries
// fails the same way, naming the artifact, instead of running the box's own etcd.
import { expect } from "chai";
import { galley, leftovers, type CliResult } from "./helpers.ts";

describe("galley converge when the provisioning cannot do its job", function () {
  const config = ["--config", "fixtures/broken/galley.yml"];
  const dataDir = "data-dir-below-a-file-debian-12";
  const emptyArtifact = "empty-etcd-artifact-debian-12";
  let converge: CliResult;
  /** The failure report of one instance in converge's stderr. */
  const report = (instance: string) => {
    const from = converge.stderr.indexOf(`converge failed on ${instance}:`);
    expect(from, converge.stderr).to.be.greaterThan(-1);
    const next = converge.stderr.indexOf("converge failed on ", from + 1);
    return converge.stderr.slice(from, next < 0 ? undefined : next);
  };
  const onNode = async (instance: string, command: string) => {
    const r = await galley([...config, "exec", instance, "--", command]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout;
  };

  before(async () => {
    // From scratch: the checks below read what the first converge of a fresh node reported.
    await galley([...config, "destroy", `${dataDir}|${emptyArtifact}`, "-c", "2"]);
    converge = await galley([...config, "converge", `${dataDir}|${emptyArtifact}`, "-c", "2"]);
  });
  after(async () => {
    const r = await galley([...config, "destroy", `${dataDir}|${emptyArtifact}`, "-c", "2"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(await leftovers(dataDir)).to.deep.equal([]);
    expect(await leftovers(emptyArtifact)).to.deep.equal([]);
  });

  it("exits 10 (an instance failed), both instances failing at converge", () => {
    expect(converge.code, converge.stderr).to.equal(10);
    expect(converge.stderr).to.match(new RegExp(`✗ converge ${dataDir}`));
    expect(converge.stderr).to.match(new RegExp(`✗ converge ${emptyArtifact}`));
  });

  it("a folder the step cannot create: names the node, the step, the folder and why", async () => {
    expect(report(dataDir)).to.match(
      /^infra0: 40-etcd: cannot create \/etc\/default\/etcd\/data: install: cannot create directory '\/etc\/default\/etcd': Not a directory$/m,
    );
    // The step stopped there: no change of its own was reported, and etcd's unit was never written.
    const changes = await onNode(dataDir, "cat /var/lib/galley/changes");
    expect(changes).to.match(/^30-docker: /m);
    expect(changes).to.not.match(/^4\d-/m);
    expect(await onNode(dataDir, "readlink /etc/systemd/system/etcd.service")).to.match(/\/dev\/null/);
  });

  it("an etcd artifact without binaries: names the artifact, and the box's etcd never runs", async () => {
    expect(report(emptyArtifact)).to.match(
      /^infra0: 40-etcd: artifact etcd has no etcd, etcdctl in \/var\/lib\/galley\/artifacts\/etcd \(configured: etcd fleet\)$/m,
    );
    expect(await onNode(emptyArtifact, "readlink /etc/systemd/system/etcd.service; systemctl is-active etcd || true")).to.match(/\/dev\/null\s+inactive/);
    expect(await onNode(emptyArtifact, "cat /var/lib/galley/changes")).to.not.match(/^4\d-/m);
  });
});
