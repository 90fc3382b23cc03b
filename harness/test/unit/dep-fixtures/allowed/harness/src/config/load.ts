// The config loader.
import "../errors.ts";
export {};
