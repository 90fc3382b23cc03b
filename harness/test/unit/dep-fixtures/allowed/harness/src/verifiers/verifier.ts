// The Verifier interface.
import "../plan/plan.ts";
export {};
