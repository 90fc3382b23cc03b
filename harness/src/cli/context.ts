// What every command needs: the configuration (loaded once, on first use), the instances it names, and
// instances wired with their plugins. Commands get this instead of reaching for globals.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Option } from "commander";
import { loadConfig, resolveConfigPath, type LoadedConfig } from "../config/load.ts";
import { GalleyError, InstanceFailure, UserError } from "../errors.ts";
import { afterRun } from "../evidence/after-run.ts";
import { componentsFor } from "../instance/components.ts";
import { Instance } from "../instance/instance.ts";
import { planMatrix } from "../matrix/plan.ts";
import { planInstances, selectInstances, type InstancePlan } from "../plan/plan.ts";
import { runPool } from "../util/pool.ts";

const bin = fileURLToPath(new URL("../../bin/galley.js", import.meta.url));

export class CliContext {
  private cached?: LoadedConfig;
  constructor(private readonly configOption: () => string | undefined) {}

  /** The configuration file the options name (it may not exist). */
  configFile(): string {
    return resolveConfigPath(this.configOption());
  }

  config(): LoadedConfig {
    this.cached ??= loadConfig(this.configFile());
    return this.cached;
  }

  /** The instances a pattern names (`all`, a name, a regular expression); matrix cells by name. */
  plans(pattern?: string, allIncludesMatrix = false): InstancePlan[] {
    const loaded = this.config();
    const cells = loaded.config.matrix ? planMatrix(loaded).map((c) => c.plan) : [];
    return selectInstances(planInstances(loaded), pattern ?? "all", cells, allIncludesMatrix);
  }

  /** An instance with its plugins; `galley fault` is how its suites inject faults outside `galley verify`. */
  instance(plan: InstancePlan): Instance {
    return new Instance(plan, componentsFor(plan), (p) => [process.execPath, bin, "--config", p.configFile, "fault", p.name], afterRun);
  }

  /** One instance that must exist (created), by exact name. */
  created(name: string): Instance {
    const plan = this.plans(name).find((p) => p.name === name);
    if (!plan) throw new UserError(`unknown instance ${name} (instances: ${this.plans().map((p) => p.name).join(", ")})`);
    const inst = this.instance(plan);
    if (!Object.keys(inst.state.nodes).length) throw new UserError(`instance ${name} is not created: run \`galley create ${name}\``);
    return inst;
  }

  /** Runs `fn` on each instance with its lock held, `limit` at a time; every instance runs even if another fails. */
  async forEach(selected: InstancePlan[], limit: number, fn: (i: Instance) => Promise<void>): Promise<void> {
    const settled = await runPool(selected, limit, async (plan) => {
      const inst = await this.instance(plan).open(commandLine());
      try {
        await fn(inst);
      } finally {
        await inst.close();
      }
    });
    const failures = settled.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const onlyInstances = failures.every((f) => f instanceof InstanceFailure);
      const msg = failures.map((f) => f.message).join("\n\n");
      throw onlyInstances ? new InstanceFailure("(several)", "(several)", msg) : new GalleyError(msg);
    }
  }

  relative(file: string): string {
    return path.relative(process.cwd(), file) || file;
  }
}

/** The command as typed, for the instance log's first line. */
export const commandLine = (): string => ["galley", ...process.argv.slice(2)].join(" ");

export const concurrencyOption = () =>
  new Option("-c, --concurrency <n>", "instances run at once").argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`--concurrency takes a whole number ≥ 1, not ${v}`);
    return n;
  }).default(1);
