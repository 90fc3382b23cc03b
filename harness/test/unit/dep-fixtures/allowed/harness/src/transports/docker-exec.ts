// The documented exception: uses the Docker client (and is the Docker driver's control channel).
import "./transport.ts";
import "../drivers/docker/client.ts";
import "../errors.ts";
export {};
