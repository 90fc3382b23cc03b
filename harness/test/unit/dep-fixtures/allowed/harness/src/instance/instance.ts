// The runner.
import "./components.ts";
import "../state/state-file.ts";
import "../plan/plan.ts";
export {};
