// A second driver's internals.
import "../driver.ts";
export {};
