// Commands on a created instance's nodes: login (an interactive shell), exec (a command on every node or
// one). Faults are in fault.ts.
import { spawnSync } from "node:child_process";
import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import type { Instance } from "../../instance/instance.ts";
import { shellQuote } from "../../transports/transport.ts";
import type { CliContext } from "../context.ts";

function nodeOf(inst: Instance, node: string | undefined): string {
  const names = inst.plan.nodes.map((n) => n.name);
  const chosen = node ?? names[0]!;
  if (!names.includes(chosen)) throw new UserError(`no node ${chosen} in ${inst.plan.name} (nodes: ${names.join(", ")})`);
  return chosen;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("login <instance> [node]")
    .description("interactive shell on a node (default: the first)")
    .action((instance: string, node: string | undefined) => {
      const inst = ctx.created(instance);
      const [cmd, ...args] = inst.components.transport.loginCommand(inst.address(nodeOf(inst, node)));
      const r = spawnSync(cmd!, args, { stdio: "inherit" });
      process.exitCode = r.status ?? 1;
    });

  program
    .command("exec <instance>")
    .description("run a command on the instance's nodes: galley exec INSTANCE [--node NODE] -- CMD")
    .option("-n, --node <node>", "only this node (default: every node)")
    .argument("<command...>")
    .action(async (instance: string, command: string[], opts: { node?: string }) => {
      const inst = ctx.created(instance);
      const nodes = opts.node ? [nodeOf(inst, opts.node)] : inst.plan.nodes.map((n) => n.name);
      const results = await Promise.all(nodes.map(async (n) => {
        const conn = await inst.components.transport.connect(inst.address(n));
        try {
          // One argument is a shell script; several are argv, quoted so spaces and quotes survive.
          const script = command.length === 1 ? command[0]! : command.map(shellQuote).join(" ");
          return { node: n, r: await conn.exec(script) };
        } finally {
          await conn.close();
        }
      }));
      for (const { node, r } of results) {
        const prefix = nodes.length > 1 ? `${node}: ` : "";
        const show = (t: string, out: NodeJS.WriteStream) => t && out.write(t.trimEnd().split("\n").map((l) => prefix + l).join("\n") + "\n");
        show(r.stdout, process.stdout);
        show(r.stderr, process.stderr);
      }
      process.exitCode = Math.max(...results.map(({ r }) => r.exitCode));
    });
}
