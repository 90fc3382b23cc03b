// Wires an instance's plugins from its plan: the composition root, the only place that knows which
// driver, transport, provisioner and verifier classes exist. Tests build an Instance with fakes instead.
import { DockerDriver } from "../drivers/docker/driver.ts";
import type { Driver } from "../drivers/driver.ts";
import type { InstancePlan } from "../plan/plan.ts";
import { AnsibleProvisioner } from "../provisioners/ansible/ansible.ts";
import type { Provisioner } from "../provisioners/provisioner.ts";
import { PuppetProvisioner } from "../provisioners/puppet.ts";
import { ShellProvisioner } from "../provisioners/shell.ts";
import { transportFor } from "../transports/index.ts";
import type { Transport } from "../transports/transport.ts";
import { MochaVerifier } from "../verifiers/mocha/runner.ts";
import type { Verifier } from "../verifiers/verifier.ts";

export interface Components {
  driver: Driver;
  transport: Transport;
  /** The driver's control transport: how the runner reaches services (set up, checked, asked for exports). */
  controlTransport: Transport;
  provisioner: Provisioner;
  verifier: Verifier;
}

export function driverFor(plan: InstancePlan): Driver {
  switch (plan.driver.name) {
    case "docker":
      return new DockerDriver();
  }
}

export function provisionerFor(plan: InstancePlan): Provisioner {
  switch (plan.provisioner.name) {
    case "shell":
      return new ShellProvisioner();
    case "ansible":
      return new AnsibleProvisioner();
    case "puppet":
      return new PuppetProvisioner();
  }
}

/** The driver `galley doctor` and `galley setup` check where no galley.yml names one (a fresh project). */
export const defaultDriver = (): Driver => new DockerDriver();

export function componentsFor(plan: InstancePlan): Components {
  const driver = driverFor(plan);
  return {
    driver,
    transport: transportFor(plan.transport),
    controlTransport: transportFor({ name: driver.controlTransport, commandTimeoutMs: 300_000 }),
    provisioner: provisionerFor(plan),
    verifier: new MochaVerifier(),
  };
}
