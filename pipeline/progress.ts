/**
 * A progress line on stderr with throughput and ETA. On a terminal it redraws one line; otherwise
 * (logs, CI) it prints a line at most every `interval` milliseconds.
 * @module
 */

/** A snapshot of progress. */
export interface ProgressState {
  /** Items done in this run. */
  done: number;
  /** Items skipped (already done by an earlier run). */
  skipped: number;
  /** Estimated total items for this job, when known. */
  total?: number;
  /** Extra text shown first, e.g. the shard. */
  label?: string;
}

/** Formats seconds as h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Renders one progress line.
 * @param state the counts
 * @param elapsedSeconds seconds since this run started
 * @returns the line, without a newline
 */
export function progressLine(state: ProgressState, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? state.done / elapsedSeconds : 0;
  const parts = [state.label ?? "", `${state.done + state.skipped} passages`];
  if (state.skipped > 0) parts.push(`(${state.skipped} resumed)`);
  parts.push(`${rate.toFixed(1)} passages/s`);
  if (state.total !== undefined && state.total > 0) {
    const finished = state.done + state.skipped;
    const pct = Math.min(100, (100 * finished) / state.total);
    const eta = rate > 0 ? Math.max(0, state.total - finished) / rate : Infinity;
    const width = 20;
    const filled = Math.round((pct / 100) * width);
    parts.push(`[${"#".repeat(filled)}${".".repeat(width - filled)}] ${pct.toFixed(1)}%`);
    parts.push(`ETA ${formatDuration(eta)}`);
  }
  parts.push(`elapsed ${formatDuration(elapsedSeconds)}`);
  return parts.filter((p) => p !== "").join("  ");
}

/** Writes progress lines to stderr. */
export class ProgressBar {
  #start = performance.now();
  #last = -Infinity;
  #tty: boolean;
  #interval: number;
  #enabled: boolean;
  #lastCount = -1;

  /**
   * @param enabled false makes every call a no-op
   * @param interval minimum milliseconds between lines when stderr is not a terminal
   */
  constructor(enabled = true, interval = 10_000) {
    this.#enabled = enabled;
    this.#tty = enabled && Deno.stderr.isTerminal();
    this.#interval = this.#tty ? 200 : interval;
  }

  /** Shows the state (throttled unless `force`). */
  update(state: ProgressState, force = false): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (!force && now - this.#last < this.#interval) return;
    this.#last = now;
    const line = progressLine(state, (now - this.#start) / 1000);
    // A forced line for the count just shown is not repeated in a log.
    const count = state.done + state.skipped;
    if (force && !this.#tty && count === this.#lastCount) return;
    this.#lastCount = count;
    const bytes = new TextEncoder().encode(this.#tty ? `\r\x1b[2K${line}` : `${line}\n`);
    Deno.stderr.writeSync(bytes);
  }

  /** Shows the final state and ends the line. */
  finish(state: ProgressState): void {
    if (!this.#enabled) return;
    this.update(state, true);
    if (this.#tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}
