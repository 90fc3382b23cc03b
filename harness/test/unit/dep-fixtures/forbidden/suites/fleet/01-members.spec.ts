// suites-only-through-galley-verifier: a relative path into the engine (suites/lib is fine).
import "../../harness/src/suite-api/index.ts";
import "../lib/parse.ts";
export {};
