// The suite API: transports, contracts, errors, helpers.
import "../transports/index.ts";
import "../contracts/attach.ts";
import "../errors.ts";
import "../util/retry.ts";
export {};
