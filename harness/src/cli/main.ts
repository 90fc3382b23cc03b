// The galley command. Parses arguments, wires the engine, and is the only place that exits:
// 0 all passed · 10 an instance failed an action · 20 bad input or environment · 130 interrupted · 1 a bug.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import { sweep } from "../drivers/docker/driver.ts";
import { pruneVagrant } from "../drivers/vagrant/prune.ts";
import { GalleyError, InstanceFailure, UserError } from "../errors.ts";
import { Instance, openInstances, type DestroyPolicy } from "../instance/runner.ts";
import { planMatrix } from "../matrix/plan.ts";
import { planInstances, selectInstances, type InstancePlan } from "../plan/plan.ts";
import { readState, type Action } from "../state/state-file.ts";
import { shellQuote } from "../transports/transport.ts";
import { killChildren } from "../util/children.ts";
import { say } from "../util/ui.ts";

const program = new Command("galley")
  .description("Test Kitchen for clusters: boot N systemd boxes per instance, provision them, verify the cluster")
  .option("--config <file>", "configuration file (default: $GALLEY_CONFIG or ./galley.yml)")
  .showHelpAfterError();

function plans(pattern?: string, allIncludesMatrix = false): InstancePlan[] {
  const loaded = loadConfig(resolveConfigPath(program.opts().config));
  const cells = loaded.config.matrix ? planMatrix(loaded).map((c) => c.plan) : [];
  return selectInstances(planInstances(loaded), pattern ?? "all", cells, allIncludesMatrix);
}

const concurrency = new Option("-c, --concurrency <n>", "instances run at once").argParser((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--concurrency takes a whole number ≥ 1, not ${v}`);
  return n;
}).default(1);

/** Runs `fn` on each selected instance, `limit` at a time; every instance runs even if another fails. */
async function forEach(selected: InstancePlan[], limit: number, fn: (i: Instance) => Promise<void>): Promise<void> {
  const failures: Error[] = [];
  const queue = [...selected];
  const worker = async () => {
    for (let plan = queue.shift(); plan; plan = queue.shift()) {
      let inst: Instance | undefined;
      try {
        inst = await new Instance(plan).open();
        await fn(inst);
      } catch (err) {
        failures.push(err as Error);
      } finally {
        await inst?.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, selected.length) }, worker));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const onlyInstances = failures.every((f) => f instanceof InstanceFailure);
    const msg = failures.map((f) => f.message).join("\n\n");
    throw onlyInstances ? new InstanceFailure("(several)", "(several)", msg) : new GalleyError(msg);
  }
}

for (const action of ["create", "converge", "verify", "destroy"] as Action[]) {
  const what = {
    create: "boot the instance's nodes",
    converge: "provision the nodes (creating them first if needed)",
    verify: "run the verification suites (creating and converging first if needed)",
    destroy: "remove the instance's containers, network and volumes",
  }[action];
  program
    .command(`${action} [instance]`)
    .description(`${what}; INSTANCE is a name, a regular expression or all (default)`)
    .addOption(concurrency)
    .action(async (pattern: string | undefined, opts: { concurrency: number }) => {
      await forEach(plans(pattern, action === "destroy"), opts.concurrency, (i) => i.transitionTo(action));
    });
}

program
  .command("test [instance]")
  .description("destroy, create, converge, verify, then destroy (by --destroy policy)")
  .addOption(new Option("--destroy <policy>", "when to destroy after the run").choices(["passing", "always", "never"]).default("passing"))
  .option("--no-idempotence", "skip the second converge that checks the provisioning changes nothing")
  .addOption(concurrency)
  .action(async (pattern: string | undefined, opts: { destroy: DestroyPolicy; idempotence: boolean; concurrency: number }) => {
    await forEach(plans(pattern), opts.concurrency, (i) => i.test(opts.destroy, { idempotence: opts.idempotence }));
  });

program
  .command("idempotence [instance]")
  .description("converge a converged instance again and fail if anything changed, naming node and step")
  .addOption(concurrency)
  .action(async (pattern: string | undefined, opts: { concurrency: number }) => {
    await forEach(plans(pattern), opts.concurrency, (i) => i.checkIdempotence());
  });

program
  .command("matrix")
  .description("run the matrix suite over combinations of artifact versions and print a compatibility table")
  .option("-a, --axis <axis=values>", "only these values of an axis, e.g. etcd=3.4.23,3.6 (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option("--json <file>", "results as JSON", ".galley/matrix/results.json")
  .option("--junit <file>", "results as JUnit XML", ".galley/matrix/junit.xml")
  .option("--keep", "keep each cell's instance instead of destroying it")
  .option("--strict", "exit 10 when any cell changed: a failure not in matrix.expected_failures, an expected failure that passed, an expired expectation")
  .option("--from <results.json>", "judge the cells of an earlier run against this config's expected failures, without running them")
  .option("--list", "list the cells without running them")
  .addOption(concurrency)
  .action(async (opts: { axis: string[]; json: string; junit: string; keep?: boolean; strict?: boolean; from?: string; list?: boolean; concurrency: number }) => {
    const { runMatrix } = await import("../matrix/run.ts");
    const { formatTable, judge, writeReports } = await import("../matrix/report.ts");
    const { today } = await import("../matrix/expect.ts");
    const selection: Record<string, string[]> = {};
    for (const a of opts.axis) {
      const [axis, values] = a.split("=");
      if (!axis || !values) throw new UserError(`--axis takes AXIS=V1,V2, not ${a}`);
      selection[axis] = values.split(",").filter(Boolean);
    }
    const loaded = loadConfig(resolveConfigPath(program.opts().config));
    const cells = planMatrix(loaded, selection);
    if (opts.list) return cells.forEach((c) => say(`${c.plan.name}  ${Object.entries(c.values).map(([a, v]) => `${a}=${v}`).join(" ")}`));
    const expectations = loaded.config.matrix?.expected_failures ?? [];
    let result: import("../matrix/run.ts").MatrixResult;
    if (opts.from) {
      const file = path.resolve(opts.from);
      let earlier: import("../matrix/run.ts").MatrixResult;
      try {
        earlier = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new UserError(`--from ${file}: not a matrix results file (${(err as Error).message.split("\n")[0]})`);
      }
      if (!Array.isArray(earlier?.cells)) throw new UserError(`--from ${file}: not a matrix results file (no cells)`);
      const wanted = new Set(cells.map((c) => c.plan.name));
      result = judge({ ...earlier, cells: earlier.cells.filter((c) => wanted.has(c.instance)) }, expectations, today());
      if (!result.cells.length) throw new UserError(`--from ${file}: none of its cells is in this matrix selection`);
    } else {
      result = await runMatrix(cells, { concurrency: opts.concurrency, keep: Boolean(opts.keep), expectations, day: today() });
    }
    const json = path.resolve(loaded.root, opts.json);
    const junit = path.resolve(loaded.root, opts.junit);
    writeReports(result, json, junit);
    say(formatTable(result));
    const took = opts.from ? `judged from ${opts.from}` : `in ${(result.wallMs / 1000).toFixed(0)} s (-c ${opts.concurrency}); peak memory ${(result.peakMemoryAboveBaselineBytes / 2 ** 30).toFixed(2)} GiB above the start`;
    say(`\n${result.cells.length} cell${result.cells.length === 1 ? "" : "s"} ${took}; ${json}, ${junit}`);
    if (opts.strict && result.news?.length) {
      throw new InstanceFailure("matrix", "matrix", `the matrix changed (--strict):\n${result.news.map((n) => `  ${n}`).join("\n")}`);
    }
  });

program
  .command("list [instance]")
  .description("instances with their last action and last error")
  .option("--json", "machine-readable output")
  .action((pattern: string | undefined, opts: { json?: boolean }) => {
    const rows = plans(pattern).map((p) => {
      let s: ReturnType<typeof readState>;
      try {
        s = readState(p.stateDir, p.name);
      } catch (err) {
        s = { instance: p.name, nodes: {}, lastError: (err as Error).message };
      }
      return {
        instance: p.name,
        nodes: p.nodes.length,
        driver: "docker",
        transport: p.transport.name,
        lastAction: s.lastAction ?? "<not created>",
        lastError: s.lastError ?? "",
      };
    });
    if (opts.json) return say(JSON.stringify(rows, null, 2));
    const header = { instance: "Instance", nodes: "Nodes", driver: "Driver", transport: "Transport", lastAction: "Last Action", lastError: "Last Error" };
    const table = [header, ...rows.map((r) => ({ ...r, nodes: String(r.nodes) }))];
    const keys = Object.keys(header) as (keyof typeof header)[];
    const widths = keys.map((k) => Math.max(...table.map((r) => String(r[k]).length)));
    for (const r of table) say(keys.map((k, i) => String(r[k]).padEnd(widths[i]!)).join("  ").trimEnd());
  });

function attached(instance: string): Instance {
  const [plan] = plans(instance);
  if (!plan || plan.name !== instance) throw new UserError(`unknown instance ${instance} (instances: ${plans().map((p) => p.name).join(", ")})`);
  const inst = new Instance(plan);
  if (!Object.keys(inst.state.nodes).length) throw new UserError(`instance ${instance} is not created: run \`galley create ${instance}\``);
  return inst;
}

function nodeOf(inst: Instance, node: string | undefined): string {
  const names = inst.plan.nodes.map((n) => n.name);
  const chosen = node ?? names[0]!;
  if (!names.includes(chosen)) throw new UserError(`no node ${chosen} in ${inst.plan.name} (nodes: ${names.join(", ")})`);
  return chosen;
}

program
  .command("login <instance> [node]")
  .description("interactive shell on a node (default: the first)")
  .action((instance: string, node: string | undefined) => {
    const inst = attached(instance);
    const [cmd, ...args] = inst.components.transport.loginCommand(nodeOf(inst, node), inst.state);
    const r = spawnSync(cmd!, args, { stdio: "inherit" });
    process.exitCode = r.status ?? 1;
  });

program
  .command("exec <instance>")
  .description("run a command on the instance's nodes: galley exec INSTANCE [--node NODE] -- CMD")
  .option("-n, --node <node>", "only this node (default: every node)")
  .argument("<command...>")
  .action(async (instance: string, command: string[], opts: { node?: string }) => {
    const inst = attached(instance);
    const nodes = opts.node ? [nodeOf(inst, opts.node)] : inst.plan.nodes.map((n) => n.name);
    const results = await Promise.all(nodes.map(async (n) => {
      const conn = await inst.components.transport.connect(n, inst.state);
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

program
  .command("prune")
  .description("remove every container, network and volume labelled by Galley (any project), with or without state files")
  .action(async () => {
    const r = await sweep();
    say(`removed ${r.containers.length} containers, ${r.networks.length} networks, ${r.volumes.length} volumes, ${r.cgroups.length} leftover cgroups`);
    // VMs (where libvirt is installed): domains, volumes, networks, the storage pool, firewall chains.
    const vms = await pruneVagrant();
    if (vms.removed.length) say(`removed ${vms.removed.length} libvirt resources:\n${vms.removed.map((x) => `  ${x}`).join("\n")}`);
    r.failures.push(...vms.failures);
    if (r.failures.length) {
      throw new GalleyError(`prune could not remove ${r.failures.length} resources:\n${r.failures.map((f) => `  ${f.resource}: ${f.reason}`).join("\n")}`);
    }
  });

// Interrupts: save every open instance's state, say how to go on, exit promptly.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    killChildren(signal);
    for (const inst of openInstances) {
      inst.state.lastError = `interrupted (${signal}) during ${inst.state.lastAttempted ?? "start"}`;
      try {
        inst.save();
      } catch {
        /* best effort */
      }
      process.stderr.write(
        `\n${signal}: stopped ${inst.plan.name} during ${inst.state.lastAttempted}; state saved.\n` +
          `  resume: galley ${inst.state.lastAttempted === "verify" ? "verify" : "converge"} ${inst.plan.name}\n` +
          `  clean up: galley destroy ${inst.plan.name}\n`,
      );
    }
    void Promise.all([...openInstances].map((i) => i.close())).finally(() => process.exit(130));
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InstanceFailure) {
    process.stderr.write(`\n${err.message}\n`);
    process.exitCode = 10;
  } else if (err instanceof GalleyError) {
    process.stderr.write(`galley: ${err.message}\n`);
    process.exitCode = 20;
  } else {
    process.stderr.write(`galley: internal error (please report it): ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  }
}
