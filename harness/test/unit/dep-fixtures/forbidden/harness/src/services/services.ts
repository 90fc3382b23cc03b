// docker-only-in-drivers-docker: a service box made with Docker directly, not through the driver.
import "../drivers/docker/box.ts";
export {};
