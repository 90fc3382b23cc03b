// Libraries most commands never touch, loaded on first use: `galley list` or `galley init` should not
// pay for an SSH stack, a tar packer or a spinner (a third of the CLI's start-up before this).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const ssh2 = (): typeof import("ssh2") => require("ssh2") as typeof import("ssh2");
export const tarFs = (): typeof import("tar-fs") => require("tar-fs") as typeof import("tar-fs");
