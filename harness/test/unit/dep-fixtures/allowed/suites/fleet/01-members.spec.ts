// A suite using its lib.
import "../lib/parse.ts";
export {};
