// Wires an instance's plugins from its plan. The only place that knows which classes exist.
import { DockerDriver } from "../drivers/docker/driver.ts";
import type { Driver } from "../drivers/driver.ts";
import { VagrantDriver } from "../drivers/vagrant/driver.ts";
import type { InstancePlan } from "../plan/plan.ts";
import type { Provisioner } from "../provisioners/provisioner.ts";
import { ShellProvisioner } from "../provisioners/shell.ts";
import { DockerExecTransport } from "../transports/docker-exec.ts";
import { SshTransport } from "../transports/ssh.ts";
import type { Transport } from "../transports/transport.ts";

export interface Components {
  driver: Driver;
  transport: Transport;
  provisioner: Provisioner;
}

export function componentsFor(plan: InstancePlan): Components {
  return {
    driver: plan.driver.name === "vagrant" ? new VagrantDriver() : new DockerDriver(),
    transport: plan.transport.name === "ssh"
      ? new SshTransport(plan.transport.commandTimeoutMs)
      : new DockerExecTransport(plan.transport.commandTimeoutMs),
    provisioner: new ShellProvisioner(),
  };
}
