// galley/verifier.
import "./cluster.ts";
import "./report.ts";
export {};
