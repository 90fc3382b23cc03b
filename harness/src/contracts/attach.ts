// .galley/<instance>/attach.json: everything a suite needs to reach an instance, written by the engine
// after every action and read by the suite API. Suites never load the config or the state file: this
// file is the whole contract between the engine and the code that checks a cluster.
import path from "node:path";
import type { FaultSpec } from "./faults.ts";

export { FAULT_KINDS, type FaultKind, type FaultSpec } from "./faults.ts";

/** How to reach one box (a node or a service): what its transport needs, nothing more. */
export interface BoxAddress {
  name: string;
  /** The box's address on the instance network (what its peers use). */
  ip: string;
  /** docker-exec: the container id. */
  container?: string;
  /** ssh: where sshd listens and as whom to log in, with which private key (a file path). */
  host?: string;
  port?: number;
  user?: string;
  keyFile?: string;
}

export interface TransportSpec {
  name: "docker-exec" | "ssh";
  commandTimeoutMs: number;
}

export interface AttachedNode extends BoxAddress {
  /** Position in the suite's node list (GALLEY_NODE_INDEX for the provisioning). */
  index: number;
  /** The node's merged attributes, service exports included. */
  attributes: Record<string, unknown>;
}

export interface AttachedArtifact {
  /** The concrete version the artifact was built or fetched at ("3.6.16"), when known. */
  version?: string;
  description: string;
}

export interface AttachFile {
  format: 1;
  instance: string;
  /** The instance's attributes (defaults < platform < environment < suite), service exports included. */
  attributes: Record<string, unknown>;
  /** Attributes the instance's services exported (dotted path → value), also merged into attributes. */
  exports: Record<string, string>;
  artifacts: Record<string, AttachedArtifact>;
  /** How commands reach the nodes (services are always reached through the driver's control transport). */
  transport: TransportSpec;
  /** The transport that reaches a box without its network (docker exec; ssh for VMs). */
  controlTransport: TransportSpec;
  nodes: AttachedNode[];
  services: BoxAddress[];
  driver: {
    name: string;
    /** Fault kinds the driver offers (crash, stop, …, partition, degrade, heal); empty when it has none. */
    faults: string[];
  };
  /** The Galley command that injects faults when no engine is attached (`galley fault …`). */
  faultCommand: string[];
}

export const ATTACH_FILE = "attach.json";

export function attachPath(stateDir: string): string {
  return path.join(stateDir, ATTACH_FILE);
}

/** A fault request from a suite process to the engine that runs it (over the child's IPC channel). */
export interface FaultRequest {
  galleyFault: FaultSpec & { id: number };
}
export interface FaultReply {
  galleyFaultReply: { id: number; error?: string };
}

/**
 * The verifier asks the engine to restore the snapshot taken after converge before a destructive suite
 * (`isolate_destructive: snapshot`); the engine answers once the cluster is back and attach.json is new.
 */
export interface RestoreRequest {
  galleyRestore: { id: number; suite: string };
}
export interface RestoreReply {
  galleyRestoreReply: { id: number; error?: string };
}
