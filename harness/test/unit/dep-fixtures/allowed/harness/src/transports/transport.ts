// The Transport interface.
import "../contracts/attach.ts";
export {};
