// The Docker driver: its interface, its client, docker-exec as control channel, helpers.
import "../driver.ts";
import "./client.ts";
import "../../transports/docker-exec.ts";
import "../../util/retry.ts";
export {};
