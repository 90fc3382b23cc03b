/** Splits a stream of chunks into whole lines (a chunk may end mid-line). */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let rest = "";
  return {
    push(chunk) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) onLine(p);
    },
    flush() {
      if (rest) onLine(rest);
      rest = "";
    },
  };
}

/** The last `n` non-empty lines of some output, for error messages. */
export function tail(text: string, n = 20): string {
  return text.trimEnd().split("\n").filter((l) => l.trim()).slice(-n).join("\n");
}
