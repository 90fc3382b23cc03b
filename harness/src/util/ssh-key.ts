// One RSA key pair per instance, made on first need under .galley/<instance>/ssh/ (never committed).
// RSA, not ed25519: fleet's 2016-era SSH client knows no other key type.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ssh2 } from "./lazy-modules.ts";

export function ensureInstanceKey(stateDir: string, instance: string): { dir: string; privateKey: string } {
  const dir = path.join(stateDir, "ssh");
  const privateKey = path.join(dir, "id_rsa");
  if (!existsSync(privateKey)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = ssh2().utils.generateKeyPairSync("rsa", { bits: 2048, comment: `galley-${instance}` });
    writeFileSync(privateKey, pair.private, { mode: 0o600 });
    writeFileSync(`${privateKey}.pub`, pair.public + "\n", { mode: 0o644 });
  }
  return { dir, privateKey };
}
