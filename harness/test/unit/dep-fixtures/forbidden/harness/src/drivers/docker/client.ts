// The Docker client: the one drivers/ file a transport may use.
import "dockerode";
export {};
