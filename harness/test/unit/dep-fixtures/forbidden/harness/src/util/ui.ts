// util-is-a-leaf: a helper reading the config.
import "../config/load.ts";
export {};
