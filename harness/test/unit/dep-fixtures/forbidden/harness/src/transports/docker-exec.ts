// Allowed: the docker-exec transport uses the Docker client.
import "../drivers/docker/client.ts";
import "./transport.ts";
export {};
