// The CLI uses everything above the plugins.
import "../instance/instance.ts";
import "../matrix/run.ts";
import "../state/state-file.ts";
export {};
