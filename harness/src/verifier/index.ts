// The API verification suites import (`import { attach } from "galley/verifier"`).
export { attach, Cluster } from "./cluster.ts";
export { Node, type WaitOptions } from "./node.ts";
export { retry, FailFast, type Check, type RetryOptions } from "./retry.ts";
export { AssertionFailed } from "../errors.ts";
export * as etcd from "./etcd.ts";
export * as fleet from "./fleet.ts";
