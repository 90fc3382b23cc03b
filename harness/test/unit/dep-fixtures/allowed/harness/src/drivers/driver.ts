// The Driver interface: plans, contracts, a transport for its control channel.
import "../plan/plan.ts";
import "../contracts/attach.ts";
import "../transports/transport.ts";
export {};
