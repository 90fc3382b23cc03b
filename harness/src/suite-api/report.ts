// Facts a check records about what it saw (the etcd version a node runs, say), kept with the check's
// result in verify.json, the JUnit report (as <properties>) and the matrix. The runner installs the
// sink; outside a Galley run (a plain mocha run) reporting does nothing.
const SINK = Symbol.for("galley.report");

type Sink = (name: string, value: string) => void;

/** Records `name = value` on the check that is running now. */
export function report(name: string, value: unknown): void {
  const sink = (globalThis as Record<symbol, Sink | undefined>)[SINK];
  sink?.(name, typeof value === "string" ? value : JSON.stringify(value));
}

export function installReportSink(sink: Sink): void {
  (globalThis as Record<symbol, Sink | undefined>)[SINK] = sink;
}
