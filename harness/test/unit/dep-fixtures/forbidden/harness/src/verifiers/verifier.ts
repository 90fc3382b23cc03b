// no-folder-cycles: the verifier interface using the runner's room.
import "../instance/fsm.ts";
export {};
