// Allowed: a subfolder importing its room's interface.
import "../verifier.ts";
export {};
