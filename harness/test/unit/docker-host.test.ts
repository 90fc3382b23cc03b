// Which Docker engine discovery picks, from a made-up machine: environment, home folder and files. The
// real engines (a forwarded unix socket, a loopback TCP port, a context) are in e2e/docker-hosts.test.ts.
import { expect } from "chai";
import { createHash } from "node:crypto";
import { CAPS, refusedCapabilities } from "../../src/drivers/docker/systemd.ts";
import { configuredEndpoint, endpointFromUri, parseProperties, socketCandidates, type HostView } from "../../src/drivers/docker/host.ts";

function machine(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): HostView {
  return {
    env,
    home: "/home/ann",
    uid: 1000,
    exists: (f) => f in files || Object.keys(files).some((k) => k.startsWith(`${f}/`)),
    read: (f) => files[f],
  };
}
const meta = (name: string) => `/home/ann/.docker/contexts/meta/${createHash("sha256").update(name).digest("hex")}/meta.json`;
const contextFile = (host: string) => JSON.stringify({ Name: "x", Endpoints: { docker: { Host: host, SkipTLSVerify: false } } });

describe("Docker host discovery", () => {
  it("uses DOCKER_HOST, unix or tcp, before anything else it could find", () => {
    const files = { "/var/run/docker.sock": "", "/home/ann/.testcontainers.properties": "docker.host=tcp://10.0.0.9:2375\n" };
    const unix = configuredEndpoint(machine(files, { DOCKER_HOST: "unix:///srv/docker/alt.sock" }))!;
    expect(unix).to.deep.include({ uri: "unix:///srv/docker/alt.sock", source: "DOCKER_HOST", explicit: true });
    expect(unix.options).to.deep.equal({ socketPath: "/srv/docker/alt.sock" });
    const tcp = configuredEndpoint(machine(files, { DOCKER_HOST: "tcp://127.0.0.1:23750" }))!;
    expect(tcp.options).to.deep.equal({ host: "127.0.0.1", port: "23750", protocol: "http" });
  });

  it("DOCKER_TLS_VERIFY makes tcp https, with the certificates from DOCKER_CERT_PATH", () => {
    const files = { "/certs/ca.pem": "CA", "/certs/cert.pem": "CERT", "/certs/key.pem": "KEY" };
    const e = configuredEndpoint(machine(files, { DOCKER_HOST: "tcp://docker.example:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }))!;
    expect(e.options).to.deep.equal({ host: "docker.example", port: "2376", protocol: "https", ca: "CA", cert: "CERT", key: "KEY" });
  });

  it("reads ~/.testcontainers.properties: tc.host first, docker.host after DOCKER_HOST", () => {
    const props = "# testcontainers\ndocker.host = tcp://127.0.0.1:2375\n";
    expect(configuredEndpoint(machine({ "/home/ann/.testcontainers.properties": props }))).to.deep.include({
      uri: "tcp://127.0.0.1:2375",
      source: "docker.host in ~/.testcontainers.properties",
    });
    const both = `${props}tc.host=tcp://127.0.0.1:40000\n`;
    expect(configuredEndpoint(machine({ "/home/ann/.testcontainers.properties": both }, { DOCKER_HOST: "unix:///x.sock" }))!.source).to.equal("tc.host in ~/.testcontainers.properties");
    expect(parseProperties("a=1\n! c\nb: two words\n  c 3")).to.deep.equal({ a: "1", b: "two words", c: "3" });
  });

  it("follows the Docker context: DOCKER_CONTEXT, else currentContext in config.json", () => {
    const files = {
      "/home/ann/.docker/config.json": JSON.stringify({ currentContext: "colima" }),
      [meta("colima")]: contextFile("unix:///home/ann/.colima/default/docker.sock"),
      [meta("ci")]: contextFile("tcp://127.0.0.1:2375"),
    };
    expect(configuredEndpoint(machine(files))).to.deep.include({ uri: "unix:///home/ann/.colima/default/docker.sock", source: "currentContext in ~/.docker/config.json: Docker context colima" });
    expect(configuredEndpoint(machine(files, { DOCKER_CONTEXT: "ci" }))!.uri).to.equal("tcp://127.0.0.1:2375");
    expect(configuredEndpoint(machine(files, { DOCKER_CONTEXT: "default" }))).to.equal(undefined);
    expect(configuredEndpoint(machine(files, { DOCKER_HOST: "unix:///a.sock", DOCKER_CONTEXT: "ci" }))!.source).to.equal("DOCKER_HOST");
    expect(() => configuredEndpoint(machine(files, { DOCKER_CONTEXT: "gone" }))).to.throw(/DOCKER_CONTEXT: Docker context gone does not exist .*docker context ls/);
    const elsewhere = { "/cfg/config.json": JSON.stringify({ currentContext: "ci" }), [meta("ci").replace("/home/ann/.docker", "/cfg")]: contextFile("tcp://127.0.0.1:1") };
    expect(configuredEndpoint(machine(elsewhere, { DOCKER_CONFIG: "/cfg" }))!.uri).to.equal("tcp://127.0.0.1:1");
  });

  it("with nothing configured, tries the default, rootless Docker and Podman sockets that exist, in that order", () => {
    const all = {
      "/var/run/docker.sock": "",
      "/run/user/1000/docker.sock": "",
      "/home/ann/.docker/run/docker.sock": "",
      "/run/user/1000/podman/podman.sock": "",
      "/run/podman/podman.sock": "",
    };
    expect(configuredEndpoint(machine(all))).to.equal(undefined);
    expect(socketCandidates(machine(all, { XDG_RUNTIME_DIR: "/run/user/1000" })).map((e) => e.uri)).to.deep.equal([
      "unix:///var/run/docker.sock",
      "unix:///run/user/1000/docker.sock",
      "unix:///home/ann/.docker/run/docker.sock",
      "unix:///run/user/1000/podman/podman.sock",
      "unix:///run/podman/podman.sock",
    ]);
    expect(socketCandidates(machine({ "/run/podman/podman.sock": "" })).map((e) => [e.uri, e.source])).to.deep.equal([["unix:///run/podman/podman.sock", "Podman (rootful)"]]);
    expect(socketCandidates(machine({}))).to.deep.equal([]);
  });

  it("refuses what it cannot use, naming where the setting came from", () => {
    expect(() => endpointFromUri("ssh://ann@box", "DOCKER_HOST", true)).to.throw(/DOCKER_HOST: ssh:\/\/ann@box: .*ssh -NL/);
    expect(() => endpointFromUri("npipe:////./pipe/docker_engine", "docker.host in ~/.testcontainers.properties", true)).to.throw(/docker.host in ~\/.testcontainers.properties: .*unsupported Docker host scheme npipe:/);
    expect(() => endpointFromUri("not a url", "DOCKER_HOST", true)).to.throw(/DOCKER_HOST: not a url is not a Docker host address/);
  });
});

describe("capabilities a remote engine refuses", () => {
  it("are found by halving, in about 2·log2(n) starts per refused capability", async () => {
    for (const refused of [[], ["SYS_RESOURCE"], ["SYS_RESOURCE", "MAC_ADMIN", "BPF"], [...CAPS]]) {
      let starts = 0;
      const found = await refusedCapabilities(CAPS, async (caps) => {
        starts++;
        return !caps.some((c) => refused.includes(c));
      });
      expect(found, `refused ${refused.join(",")}`).to.deep.equal(CAPS.filter((c) => refused.includes(c)));
      if (refused.length === 1) expect(starts).to.be.at.most(13);
    }
  });
});
