// Vagrant as Galley runs it: its own VAGRANT_HOME under Galley's cache (boxes and the machine index
// never mix with the user's), no calls home (checkpoint, box updates), and `vagrant ssh-config` read
// once and parsed, since every `vagrant` call costs about 2 s of Ruby start-up.
import { ActionFailed } from "../../errors.ts";
import { cacheDir } from "../../util/cache.ts";
import { must, runCommand, type CommandOptions, type CommandResult } from "./command.ts";

export const vagrantHome = () => process.env.GALLEY_VAGRANT_HOME ?? cacheDir("vagrant", "home");

export function vagrantEnv(cwd?: string, provider?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    VAGRANT_HOME: vagrantHome(),
    VAGRANT_CHECKPOINT_DISABLE: "1",
    VAGRANT_BOX_UPDATE_CHECK_DISABLE: "1",
    VAGRANT_NO_COLOR: "1",
    ...(cwd ? { VAGRANT_CWD: cwd } : {}),
    ...(provider ? { VAGRANT_DEFAULT_PROVIDER: provider } : {}),
  };
}

export function vagrant(args: string[], o: CommandOptions & { cwd?: string; provider?: string; what?: string } = {}): Promise<CommandResult> {
  return must("vagrant", args, { ...o, env: vagrantEnv(o.cwd, o.provider), error: ActionFailed });
}

export function vagrantMaybe(args: string[], o: CommandOptions & { cwd?: string; provider?: string } = {}): Promise<CommandResult> {
  return runCommand("vagrant", args, { ...o, env: vagrantEnv(o.cwd, o.provider) });
}

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  identityFile?: string;
}

/** `vagrant ssh-config` output (one `Host` block per machine) → machine → endpoint. */
export function parseSshConfig(text: string): Record<string, SshEndpoint> {
  const out: Record<string, SshEndpoint> = {};
  let current: { name: string; fields: Record<string, string> } | undefined;
  const flush = () => {
    if (!current) return;
    const f = current.fields;
    if (f.hostname) {
      out[current.name] = {
        host: f.hostname,
        port: Number(f.port ?? 22),
        user: f.user ?? "vagrant",
        ...(f.identityfile ? { identityFile: f.identityfile.replace(/^"(.*)"$/, "$1") } : {}),
      };
    }
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === "host") {
      flush();
      current = { name: m[2]!.trim(), fields: {} };
    } else if (current && !(key in current.fields)) {
      current.fields[key] = m[2]!.trim();
    }
  }
  flush();
  return out;
}
