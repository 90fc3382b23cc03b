// The API verification suites import (`import { attach } from "galley/verifier"`).
import * as chai from "chai";

// Whole values in assertion messages: a truncated "…(3)" hides the very thing that differs. Set here,
// in the module graph the specs load, so it is the same chai they use.
chai.config.truncateThreshold = 0;

export { attach, Cluster } from "./cluster.ts";
export { Node, type WaitOptions } from "./node.ts";
export { report } from "./report.ts";
export { retry, eventually, FailFast, TimedOut, type Check, type RetryOptions } from "./retry.ts";
export { skipIf } from "./skip.ts";
export { AssertionFailed } from "../errors.ts";
export * as etcd from "./etcd.ts";
export * as fleet from "./fleet.ts";
