// Docker code in drivers/docker.
import "dockerode";
import "../../errors.ts";
export {};
