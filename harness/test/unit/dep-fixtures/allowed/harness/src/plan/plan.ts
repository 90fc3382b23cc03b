// Config → instances.
import "../config/load.ts";
export {};
