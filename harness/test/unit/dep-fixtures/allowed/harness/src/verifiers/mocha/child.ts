// The mocha child loads the suite API's report hooks.
import "../../suite-api/report.ts";
export {};
