// The Provisioner interface.
import "../plan/plan.ts";
export {};
