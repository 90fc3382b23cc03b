// transports-reach-drivers-only-for-the-docker-client, and
// drivers-and-transports-reach-provisioners-through-the-interface.
import "../drivers/driver.ts";
import "../provisioners/shell.ts";
export {};
