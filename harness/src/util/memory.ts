// Peak memory of a stretch of work: the machine's used memory (MemTotal − MemAvailable) sampled
// twice a second, above what was in use when sampling started. Counts everything the work caused —
// containers, builds, Galley itself — without knowing their cgroups.
import { readFileSync } from "node:fs";

function usedBytes(): number {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  return (kb("MemTotal") - kb("MemAvailable")) * 1024;
}

export function samplePeakMemory(): { stop(): { baselineBytes: number; peakAboveBaselineBytes: number } } {
  const baseline = usedBytes();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, usedBytes())), 500);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, usedBytes());
      return { baselineBytes: baseline, peakAboveBaselineBytes: peak - baseline };
    },
  };
}
