// engine-not-into-suites-fixtures-tests (twice): the engine reaching into the suites and its own tests.
import "../../../suites/lib/parse.ts";
import "../../test/helper.ts";
export {};
