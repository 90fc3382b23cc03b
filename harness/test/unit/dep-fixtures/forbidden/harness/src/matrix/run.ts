// engine-not-into-suites-fixtures-tests: the engine reaching into a fixture.
import "../../../fixtures/lib/steps.ts";
export {};
