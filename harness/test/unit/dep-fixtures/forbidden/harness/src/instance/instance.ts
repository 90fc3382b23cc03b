// no-folder-cycles (with verifiers/verifier.ts): instance → verifiers/mocha, verifiers → instance.
import "../verifiers/mocha/runner.ts";
import "./components.ts";
export {};
