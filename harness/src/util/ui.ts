// Console output: quiet when all is well (one line per finished step), a spinner with live progress on a
// terminal, and nothing but finished lines when output is a file or CI log.
import type { Ora } from "ora";

// GALLEY_VERBOSE=1 (or `galley -v`) prints every progress update (CI logs, and tests that act at a
// given step), and where each create and converge spent its time.
export const isVerbose = () => Boolean(process.env.GALLEY_VERBOSE);
const interactive = () => Boolean(process.stderr.isTTY) && !process.env.CI;
let spinner: Ora | undefined;
let active = 0;

export type Progress = (text: string) => void;

function fmt(ms: number) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Runs `fn` as a named step; prints `✓ label (time)` or `✗ label` when it ends. */
export async function task<T>(label: string, fn: (progress: Progress) => Promise<T>): Promise<T> {
  const start = Date.now();
  active++;
  let lastPrinted = start;
  const progress: Progress = (text) => {
    if (spinner) spinner.text = `${label}: ${text}`;
    else if (!interactive() && (isVerbose() || Date.now() - lastPrinted > 15_000)) {
      lastPrinted = Date.now();
      process.stderr.write(`  … ${label}: ${text}\n`);
    }
  };
  // The spinner library loads only where a spinner shows (a terminal), not in CI or for a quiet command.
  if (interactive() && active === 1) {
    const { default: ora } = await import("ora");
    if (active === 1) spinner = ora({ text: label, stream: process.stderr }).start();
  }
  try {
    const out = await fn(progress);
    line(`✓ ${label} (${fmt(Date.now() - start)})`);
    return out;
  } catch (err) {
    line(`✗ ${label} (${fmt(Date.now() - start)})`);
    throw err;
  } finally {
    active--;
  }
}

export function line(text: string): void {
  if (spinner) {
    spinner.stop();
    spinner = undefined;
  }
  process.stderr.write(text + "\n");
}

export function say(text: string): void {
  process.stdout.write(text + "\n");
}

export { fmt as formatMs };
