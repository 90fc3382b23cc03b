// The matrix runs instances.
import "../instance/instance.ts";
import "../plan/plan.ts";
export {};
