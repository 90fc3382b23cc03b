// docker-only-in-drivers-docker: a command talking to Docker itself.
import "dockerode";
export {};
