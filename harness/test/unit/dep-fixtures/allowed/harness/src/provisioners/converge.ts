// Provisioners see drivers and transports through their interfaces, and use services.
import "./provisioner.ts";
import "../drivers/driver.ts";
import "../transports/transport.ts";
import "../services/services.ts";
export {};
