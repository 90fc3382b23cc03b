// plugins-not-into-cli-matrix-instance: a provisioner using the matrix.
import "../matrix/run.ts";
export {};
