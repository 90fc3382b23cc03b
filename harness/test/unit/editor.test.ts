// Editor support, as an editor sees it: the YAML language server (what VS Code's YAML extension, Neovim,
// Helix and Zed run) reads the `# yaml-language-server: $schema=` line of galley.yml and box.yml, finds
// the committed schema beside the repository, and then reports mistakes on their lines and completes
// keys. The server runs over stdio with the schema store turned off and a proxy on a closed loopback
// port, so it fetches nothing from the network.
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { repo } from "../e2e/helpers.ts";

interface Diagnostic {
  range: { start: { line: number; character: number } };
  message: string;
}

/** A minimal LSP client: JSON-RPC over the server's stdin and stdout, Content-Length framed. */
class LanguageServer {
  private readonly child: ChildProcess;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  private readonly diagnostics = new Map<string, Diagnostic[]>();
  private readonly diagnosticWaiters = new Map<string, (d: Diagnostic[]) => void>();
  stderr = "";

  constructor() {
    const bin = createRequire(import.meta.url).resolve("yaml-language-server/bin/yaml-language-server");
    this.child = spawn(process.execPath, [bin, "--stdio"], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
    this.child.stderr!.on("data", (b: Buffer) => (this.stderr += b));
    this.child.stdout!.on("data", (b: Buffer) => this.receive(b));
  }

  private send(message: object): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }));
    this.child.stdin!.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString()) as {
        id?: number;
        method?: string;
        params?: { uri: string; diagnostics: Diagnostic[] };
        result?: unknown;
      };
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.handle(message);
    }
  }

  private handle(m: { id?: number; method?: string; params?: { uri: string; diagnostics: Diagnostic[] }; result?: unknown }): void {
    if (m.method === "workspace/configuration") {
      // The sections asked for: yaml, http, [yaml], editor, files.
      const yaml = { validate: true, completion: true, hover: true, schemaStore: { enable: false, url: "" } };
      this.send({ id: m.id, result: [yaml, { proxy: "http://127.0.0.1:9", proxyStrictSSL: true }, {}, {}, {}] });
    } else if (m.method === "textDocument/publishDiagnostics") {
      this.diagnostics.set(m.params!.uri, m.params!.diagnostics);
      this.diagnosticWaiters.get(m.params!.uri)?.(m.params!.diagnostics);
    } else if (m.method !== undefined && m.id !== undefined) {
      this.send({ id: m.id, result: null }); // registrations and the like
    } else if (m.id !== undefined) {
      this.pending.get(m.id)?.(m.result);
      this.pending.delete(m.id);
    }
  }

  request<T>(method: string, params: object): Promise<T> {
    const id = this.nextId++;
    this.send({ id, method, params });
    return new Promise((resolve) => this.pending.set(id, resolve as (r: unknown) => void));
  }

  notify(method: string, params: object): void {
    this.send({ method, params });
  }

  async start(): Promise<void> {
    const root = pathToFileURL(repo).href;
    await this.request("initialize", {
      processId: process.pid,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: "galley" }],
      capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: {}, completion: { completionItem: { snippetSupport: false } } } },
    });
    this.notify("initialized", {});
  }

  /** Opens a document (its text need not be on disk: the server reads it from the message). */
  open(file: string, text: string): string {
    const uri = pathToFileURL(path.join(repo, file)).href;
    this.notify("textDocument/didOpen", { textDocument: { uri, languageId: "yaml", version: 1, text } });
    return uri;
  }

  /**
   * The diagnostics of a document once its schema was applied. The server may publish once before it
   * loaded the schema; `ready` says whether what arrived is the schema's verdict.
   */
  diagnosticsFor(uri: string, ready: (d: Diagnostic[]) => boolean, timeoutMs = 20_000): Promise<Diagnostic[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms (last: ${JSON.stringify(this.diagnostics.get(uri))}); server stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      const check = (d: Diagnostic[]) => {
        if (!ready(d)) return;
        clearTimeout(timer);
        this.diagnosticWaiters.delete(uri);
        resolve(d);
      };
      this.diagnosticWaiters.set(uri, check);
      const known = this.diagnostics.get(uri);
      if (known) check(known);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

const read = (file: string) => readFileSync(path.join(repo, file), "utf8");
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle));
const summary = (ds: Diagnostic[]) => ds.map((d) => `${d.range.start.line}: ${d.message}`);

describe("editor support: the YAML language server with the committed schemas", function () {
  let server: LanguageServer;

  before(async () => {
    server = new LanguageServer();
    await server.start();
  });
  after(() => server?.stop());

  it("finds nothing wrong in this repository's galley.yml and its boxes", async () => {
    // The server publishes an empty list for a document it validated against its schema: to know the
    // schema was applied at all, a second copy with one mistake must be reported (next test); here
    // the clean files must stay clean.
    for (const file of ["galley.yml", "harness/boxes/debian-12/box.yml", "boxes/fleet-node/box.yml"]) {
      const uri = server.open(file, read(file));
      expect(summary(await server.diagnosticsFor(uri, () => true)), file).to.deep.equal([]);
    }
  });

  it("reports a mistake in galley.yml on its line, by the schema the first line names", async () => {
    const good = read("galley.yml");
    expect(good).to.contain("driver:\n  name: docker\n");
    const bad = good.replace("driver:\n  name: docker\n", "driver:\n  name: podman\n").replace(/^suites:\n/m, "suites:\n  - name: typo\n    nodes: 3\n    nodez: 3\n");
    const uri = server.open("galley-with-mistakes.yml", bad);
    const ds = await server.diagnosticsFor(uri, (d) => d.length >= 2);
    const lines = ds.map((d) => d.range.start.line);
    expect(summary(ds).length, `only the two mistakes: ${JSON.stringify(summary(ds))}`).to.equal(2);
    expect(lines, JSON.stringify(summary(ds))).to.include(lineOf(bad, "name: podman"));
    expect(lines, JSON.stringify(summary(ds))).to.include(lineOf(bad, "nodez: 3"));
    expect(ds.find((d) => d.range.start.line === lineOf(bad, "nodez: 3"))!.message).to.match(/nodez.*not allowed|not allowed.*nodez|Property nodez/i);
  });

  it("reports a misspelt key in box.yml", async () => {
    const uri = server.open("boxes/fleet-node/box-with-mistake.yml", read("boxes/fleet-node/box.yml").replace(/^extends:/m, "extend:"));
    const ds = await server.diagnosticsFor(uri, (d) => d.length >= 1);
    expect(summary(ds).join("\n")).to.match(/extend/);
  });

  it("completes galley.yml's top-level keys and a driver's name", async () => {
    const text = "# yaml-language-server: $schema=harness/schema/galley.schema.json\n\n";
    const uri = server.open("galley-completion.yml", text);
    await server.diagnosticsFor(uri, () => true);
    const keys = await server.request<{ items: { label: string }[] }>("textDocument/completion", { textDocument: { uri }, position: { line: 1, character: 0 } });
    expect(keys.items.map((i) => i.label)).to.include.members(["driver", "provisioner", "verifier", "platforms", "suites"]);
    const driverText = `${text.trimEnd()}\ndriver: \n`;
    server.notify("textDocument/didChange", { textDocument: { uri, version: 2 }, contentChanges: [{ text: driverText }] });
    const names = await server.request<{ items: { label: string }[] }>("textDocument/completion", { textDocument: { uri }, position: { line: 1, character: 8 } });
    expect(names.items.map((i) => i.label)).to.include("docker");
  });
});
