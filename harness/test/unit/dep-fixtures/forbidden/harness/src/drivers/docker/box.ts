// Docker code.
import "./client.ts";
export {};
