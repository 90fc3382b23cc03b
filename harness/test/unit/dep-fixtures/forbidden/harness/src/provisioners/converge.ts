// provisioners-reach-drivers-and-transports-through-interfaces: a driver's internals (driver.ts is fine).
import "../drivers/driver.ts";
import "../drivers/vagrant/driver.ts";
export {};
