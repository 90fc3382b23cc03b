// The API verification suites import (`import { useCluster } from "galley/verifier"`), and nothing
// else of Galley: a suite sees nodes, addresses, attributes and the verbs to act on them.
import * as chai from "chai";

// Whole values in assertion messages: a truncated "…(3)" hides the very thing that differs. Set here,
// in the module graph the specs load, so it is the same chai they use.
chai.config.truncateThreshold = 0;

export { attach, Cluster, type AttachOptions } from "./cluster.ts";
export { Faults, type DegradeOptions, type Target } from "./faults.ts";
export type { FaultSpec, LinkShape, Role } from "../contracts/faults.ts";
export { useCluster } from "./use-cluster.ts";
export { Node, type WaitOptions } from "./node.ts";
export { report } from "./report.ts";
export { chaos, invariant, type InvariantOptions } from "./chaos.ts";
export { skipIf } from "./skip.ts";
export { destructive } from "./destructive.ts";
export { retry, eventually, FailFast, TimedOut, type Check, type RetryOptions } from "../util/retry.ts";
export { probeCommand, probeUnit, versionIn, type Probe } from "./probe.ts";
export { factName, type FactKind } from "../contracts/facts.ts";
export { AssertionFailed } from "../errors.ts";
export type { ExecOptions, ExecResult } from "../transports/transport.ts";
