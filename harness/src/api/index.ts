// The package's main export (`import { GalleyInstance } from "galley"`): start an instance from a
// project's own tests, and everything a verification suite uses to check it (Cluster, Node, waits).
export { GalleyInstance, StartedGalleyInstance, type GalleyInstanceOptions } from "./galley-instance.ts";
export * from "../suite-api/index.ts";
