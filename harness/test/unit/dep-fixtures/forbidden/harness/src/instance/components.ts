// Allowed: the composition root names the Docker driver's files.
import "../drivers/docker/box.ts";
export {};
