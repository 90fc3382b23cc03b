// The composition root: names the plugins.
import "../drivers/docker/driver.ts";
import "../provisioners/converge.ts";
import "../verifiers/mocha/runner.ts";
export {};
