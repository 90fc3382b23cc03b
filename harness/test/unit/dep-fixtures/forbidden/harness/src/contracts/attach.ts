// contracts-are-a-leaf: data importing the errors.
import "../errors.ts";
export {};
