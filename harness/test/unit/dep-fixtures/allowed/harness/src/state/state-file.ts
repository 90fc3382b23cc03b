// State.
import "../contracts/attach.ts";
export {};
