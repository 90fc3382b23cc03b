// galley/verifier.
import "./cluster.ts";
export {};
