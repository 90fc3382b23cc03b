// Transports by name.
import "./docker-exec.ts";
export {};
