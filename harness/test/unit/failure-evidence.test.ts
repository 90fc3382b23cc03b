// What a failure says about itself: the units a converge failure names (with their state and journal,
// read from the node), and the one line `galley list` shows for a failed action.
import { expect } from "chai";
import { ChecksFailed, CommandFailed, InstanceFailure, summaryOf } from "../../src/errors.ts";
import { unitEvidence, unitsNamedIn } from "../../src/provisioners/unit-evidence.ts";
import type { Connection, ExecResult } from "../../src/transports/transport.ts";

describe("failure evidence", () => {
  it("finds the units a failure's output names, with or without a suffix, in order, at most three", () => {
    expect(unitsNamedIn("web0: web: cannot start hello: Job for hello.service failed because the control process exited with error code. (systemctl exited 1)"))
      .to.deep.equal(["hello.service"]);
    expect(unitsNamedIn("cannot restart lighttpd: something else")).to.deep.equal(["lighttpd.service"]);
    expect(unitsNamedIn("a.socket then b.timer, a.socket again, c.mount, d.service")).to.deep.equal(["a.socket", "b.timer", "c.mount"]);
    expect(unitsNamedIn("cannot write /etc/nginx/nginx.conf: Read-only file system")).to.deep.equal([]);
  });

  it("shows only units that are loaded and not active, with their journal", async () => {
    let asked = "";
    const conn = {
      exec: async (script: string): Promise<ExecResult> => {
        asked = script;
        return {
          exitCode: 0,
          stderr: "",
          ms: 1,
          stdout: [
            "=== hello.service LoadState=loaded ActiveState=failed SubState=failed ",
            "2026-01-01T00:00:00+0000 web1 systemd[1]: Starting hello.service...",
            "2026-01-01T00:00:00+0000 web1 busybox[12]: httpd: bind: Address already in use",
            "=== ssh.service LoadState=loaded ActiveState=active SubState=running ",
            "-- No entries --",
            "=== nothere.service LoadState=not-found ActiveState=inactive SubState=dead ",
            "-- No entries --",
          ].join("\n"),
        };
      },
    } as unknown as Connection;
    const units = await unitEvidence(conn, "web1", ["hello.service", "ssh.service", "nothere.service"]);
    expect(asked).to.match(/journalctl -u 'hello\.service' -n 15/);
    expect(units).to.deep.equal([{
      node: "web1",
      unit: "hello.service",
      state: "failed/failed",
      journalTail: "2026-01-01T00:00:00+0000 web1 systemd[1]: Starting hello.service...\n2026-01-01T00:00:00+0000 web1 busybox[12]: httpd: bind: Address already in use",
    }]);
    const err = new CommandFailed({ node: "web1", command: "provision.sh", exitCode: 1, outputTail: "cannot start hello", step: "web", units });
    expect(err.message).to.match(/^node web1: provision\.sh failed with exit code 1 \(step web\); last output:\ncannot start hello\nunit hello\.service on web1 is failed\/failed; last journal lines:\n.*Starting hello\.service\.\.\.\n.*Address already in use$/);
  });

  it("summarises a failed action in one line: the failed check, or node, command, step and last output", () => {
    const checks = new ChecksFailed("2 of 3 checks failed (1 passed, 0 skipped):\n  ✗ web serves its page on every node\n…", ["web serves its page on every node", "web answers"]);
    expect(summaryOf(new InstanceFailure("i", "verify", "verify failed on i:\n…", { cause: checks }))).to.equal("check failed: web serves its page on every node (and 1 more)");
    const converge = new CommandFailed({ node: "web1", command: "provision.sh", exitCode: 1, outputTail: "--- web\nweb1: web: cannot start hello: Job for hello.service failed\n", step: "web" });
    expect(summaryOf(converge)).to.equal("node web1: provision.sh failed (exit 1, step web): web1: web: cannot start hello: Job for hello.service failed");
    expect(summaryOf(new Error("first line\nsecond"))).to.equal("first line");
  });
});
