// Which Docker credentials a box `from:` a registry image is pulled with: read from config.json as the
// docker CLI reads it (auths written by `docker login`, identity tokens, per-registry credential
// helpers, a credential store), for the registry the image reference names.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findRegistryAuth, registryOf } from "../../src/drivers/docker/registry-auth.ts";
import { UserError } from "../../src/errors.ts";

describe("registry credentials for a box's from:", () => {
  let dir: string;
  const env = () => ({ DOCKER_CONFIG: dir });
  const config = (json: unknown) => writeFileSync(path.join(dir, "config.json"), typeof json === "string" ? json : JSON.stringify(json));
  const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "galley-docker-config-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("names the registry of an image reference: a host with a dot or port, localhost, else Docker Hub", () => {
    expect(registryOf("rockylinux:9")).to.equal("https://index.docker.io/v1/");
    expect(registryOf("library/debian:12")).to.equal("https://index.docker.io/v1/");
    expect(registryOf("docker.io/rockylinux/rockylinux:9")).to.equal("https://index.docker.io/v1/");
    expect(registryOf("registry.example.net/centos/centos:stream9")).to.equal("registry.example.net");
    expect(registryOf("localhost:5000/team/base:1")).to.equal("localhost:5000");
    expect(registryOf("localhost/base")).to.equal("localhost");
    expect(registryOf("registry.example:5000/base@sha256:abc")).to.equal("registry.example:5000");
  });

  it("takes `docker login`'s base64 auth for that registry, under any of the keys docker writes", () => {
    config({ auths: { "localhost:5000": { auth: basic("ann", "s3:cret") }, "https://registry.example.net": { auth: basic("bob", "pw") } } });
    expect(findRegistryAuth("localhost:5000/team/base:1", env())).to.deep.equal({
      auth: { username: "ann", password: "s3:cret", serveraddress: "localhost:5000" },
      source: `${path.join(dir, "config.json")}: auths.localhost:5000`,
    });
    expect(findRegistryAuth("registry.example.net/centos/centos:stream9", env())!.auth).to.include({ username: "bob", password: "pw" });
    expect(findRegistryAuth("rockylinux:9", env()), "nothing for Docker Hub").to.equal(undefined);
  });

  it("Docker Hub's credentials are under https://index.docker.io/v1/; an identity token is passed as such", () => {
    config({ auths: { "https://index.docker.io/v1/": { identitytoken: "tok" } } });
    expect(findRegistryAuth("rockylinux:9", env())!.auth).to.deep.equal({ identitytoken: "tok", serveraddress: "https://index.docker.io/v1/" });
  });

  it("asks a per-registry credential helper first, then the credential store, and falls back to auths", () => {
    config({ credHelpers: { "registry.example.net": "pass" }, credsStore: "desktop", auths: { "localhost:5000": { auth: basic("ann", "pw") } } });
    const asked: string[] = [];
    const helper = (name: string, server: string) => {
      asked.push(`${name} ${server}`);
      if (name === "pass") return { Username: "carol", Secret: "from-pass" };
      if (name === "desktop" && server === "registry.example") return { Username: "<token>", Secret: "refresh" };
      return undefined; // the store knows nothing of this registry
    };
    expect(findRegistryAuth("registry.example.net/x/y:1", env(), helper)).to.deep.equal({
      auth: { username: "carol", password: "from-pass", serveraddress: "registry.example.net" },
      source: `${path.join(dir, "config.json")}: credHelpers.registry.example.net (docker-credential-pass)`,
    });
    expect(findRegistryAuth("registry.example/x:1", env(), helper)!.auth).to.deep.equal({ identitytoken: "refresh", serveraddress: "registry.example" });
    expect(findRegistryAuth("localhost:5000/x:1", env(), helper)!.auth).to.include({ username: "ann", password: "pw" });
    expect(asked).to.deep.equal(["pass registry.example.net", "desktop registry.example", "desktop localhost:5000"]);
  });

  it("no config.json is no credentials; a broken one is an error naming the file", () => {
    expect(findRegistryAuth("localhost:5000/x:1", env())).to.equal(undefined);
    config("{ not json");
    expect(() => findRegistryAuth("localhost:5000/x:1", env())).to.throw(UserError, new RegExp(`${path.join(dir, "config.json")}: not valid JSON`));
    config({ auths: { "localhost:5000": { auth: Buffer.from("no-colon").toString("base64") } } });
    expect(() => findRegistryAuth("localhost:5000/x:1", env())).to.throw(UserError, /auths\.localhost:5000\.auth: expected base64 of user:password/);
  });

  it("a credential helper that is not installed is named", () => {
    config({ credHelpers: { "registry.example.net": "galley-no-such-helper" } });
    expect(() => findRegistryAuth("registry.example.net/x:1", env())).to.throw(UserError, /names the credential helper galley-no-such-helper for registry\.example\.net, but docker-credential-galley-no-such-helper cannot run: it is not installed/);
  });
});
