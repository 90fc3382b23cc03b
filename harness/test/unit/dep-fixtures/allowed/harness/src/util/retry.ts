// util may throw the engine's errors.
import "../errors.ts";
import "./lines.ts";
export {};
