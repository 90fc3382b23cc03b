// A subfolder importing its room and a helper.
import "../verifier.ts";
import "../../util/lines.ts";
export {};
