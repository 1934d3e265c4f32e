/**
 * A one-line progress bar on stderr for downloads and conversions.
 * @module
 */

/** Receives progress of a long operation. */
export interface Progress {
  /** Reports that `done` of `total` units are finished (total may be unknown: 0). */
  update(done: number, total: number): void;
  /** Ends the line. */
  finish(): void;
}

/** A progress reporter that does nothing. */
export const SILENT_PROGRESS: Progress = { update(): void {}, finish(): void {} };

/**
 * A bar such as `model.safetensors [#########-----------] 45% 190.2/418.0 MB`, redrawn at most ten
 * times a second on stderr.
 * @param label what is in progress
 * @param unit "bytes" prints megabytes; "items" prints counts
 * @returns the reporter
 */
export function stderrProgress(label: string, unit: "bytes" | "items" = "bytes"): Progress {
  const encoder = new TextEncoder();
  let last = 0;
  let drawn = false;
  const draw = (done: number, total: number): void => {
    const fmt = (n: number): string => unit === "bytes" ? (n / 1e6).toFixed(1) : String(n);
    const suffix = unit === "bytes" ? " MB" : "";
    let line: string;
    if (total > 0) {
      const fraction = Math.min(1, done / total);
      const filled = Math.round(fraction * 20);
      line = `${label} [${"#".repeat(filled)}${"-".repeat(20 - filled)}] ${
        Math.floor(fraction * 100)
      }% ${fmt(done)}/${fmt(total)}${suffix}`;
    } else {
      line = `${label} ${fmt(done)}${suffix}`;
    }
    try {
      Deno.stderr.writeSync(encoder.encode(`\r${line}\x1b[K`));
      drawn = true;
    } catch {
      // stderr closed: progress is best effort.
    }
  };
  return {
    update(done: number, total: number): void {
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      draw(done, total);
    },
    finish(): void {
      if (!drawn) return;
      try {
        Deno.stderr.writeSync(encoder.encode("\n"));
      } catch {
        // ignore
      }
    },
  };
}

/**
 * Whether progress bars should be shown by default: only when stderr is a terminal.
 * @returns true for an interactive stderr
 */
export function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}
