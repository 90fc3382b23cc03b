// errors-is-a-leaf: the errors using a helper.
import "./util/lines.ts";
export {};
