// Docker inside a node: which hosts need its cgroups nested (the node shares the host's cgroup tree),
// and the daemon.json Galley puts into a node before its first boot is a valid tar entry.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { INNER_DAEMON_CONFIG, sharesHostCgroups, tarOf } from "../../src/drivers/docker/nested-cgroups.ts";
import { hostConfigFor } from "../../src/drivers/docker/systemd.ts";

describe("nested cgroups", () => {
  it("nests where the node shares the host's cgroup tree: cgroup v1 always, v2 without real --privileged", () => {
    const shares = (mode: "privileged" | "capabilities", cgroupVersion: "1" | "2") => sharesHostCgroups(hostConfigFor({ mode, cgroupVersion, capDrop: [] }));
    expect(shares("capabilities", "1")).to.equal(true);
    expect(shares("privileged", "1")).to.equal(true);
    expect(shares("capabilities", "2")).to.equal(true);
    // A private cgroup namespace: the node's Docker makes its cgroups below the node's own already.
    expect(shares("privileged", "2")).to.equal(false);
  });

  it("the daemon.json archive unpacks with tar to etc/docker/daemon.json, the systemd cgroup driver in it", () => {
    const json = JSON.stringify(INNER_DAEMON_CONFIG);
    const archive = tarOf([{ name: "etc/docker/", mode: 0o755 }, { name: "etc/docker/daemon.json", mode: 0o644, body: json }]);
    const list = spawnSync("tar", ["-tv"], { input: archive });
    expect(list.status, list.stderr.toString()).to.equal(0);
    expect(list.stdout.toString()).to.match(/^drwxr-xr-x root\/root .* etc\/docker\/$/m).and.match(/^-rw-r--r-- root\/root .* etc\/docker\/daemon.json$/m);
    const body = spawnSync("tar", ["-xO", "etc/docker/daemon.json"], { input: archive });
    expect(JSON.parse(body.stdout.toString())).to.deep.equal({ "exec-opts": ["native.cgroupdriver=systemd"] });
  });
});
