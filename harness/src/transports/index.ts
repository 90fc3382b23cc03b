// Transports by name: what the engine and the suite API use to build one from an instance's spec.
import type { TransportSpec } from "../contracts/attach.ts";
import { DockerExecTransport } from "./docker-exec.ts";
import { SshTransport } from "./ssh.ts";
import type { Transport } from "./transport.ts";

export function transportFor(spec: TransportSpec): Transport {
  return spec.name === "ssh" ? new SshTransport(spec.commandTimeoutMs) : new DockerExecTransport(spec.commandTimeoutMs);
}
