/**
 * The backend a program gets when it never chose one: the first model load (`fromPretrained`,
 * `OpenDomainQA`, `createHandler`) runs `setBackend()` (`DPR_BACKEND`, else "auto": the fastest
 * backend that starts without probing hardware it cannot use and without a permission prompt),
 * and says once which backend it picked. Without this, tfjs would run everything on its plain
 * JavaScript cpu kernels (about 17x slower than wasm for a BERT-base question).
 * @module
 */
import { backendChosen, describeChoice, setBackend, type SetBackendResult } from "./set_backend.ts";

let pending: Promise<SetBackendResult | undefined> | undefined;

/** Options of {@linkcode ensureBackend}. */
export interface EnsureBackendOptions {
  /** Receives the one line saying which backend was picked. Default: stderr. */
  log?: (line: string) => void;
}

/**
 * Chooses a backend unless one was chosen: when no `setBackend` call has started one, runs
 * `setBackend()` once (concurrent callers share that one call) and reports the choice in one
 * line. Does nothing once a backend was chosen.
 *
 * @example
 * ```ts
 * import { ensureBackend } from "./default_backend.ts";
 * const picked = await ensureBackend({ log: () => {} });
 * console.log(picked?.backend); // e.g. "wasm", or undefined when one was already chosen
 * ```
 *
 * @param options where the line goes
 * @returns what `setBackend` chose, or undefined when a backend was already chosen
 */
export function ensureBackend(
  options: EnsureBackendOptions = {},
): Promise<SetBackendResult | undefined> {
  if (pending !== undefined) return pending;
  if (backendChosen()) return Promise.resolve(undefined);
  const log = options.log ?? ((line: string) => console.error(line));
  pending = setBackend().then((result) => {
    const choice = describeChoice(result).replace(/^dpr: /, "");
    log(
      result.source === "DPR_BACKEND"
        ? `dpr: the first model load started ${choice} (DPR_BACKEND)`
        : `dpr: no backend was chosen (setBackend(), DPR_BACKEND): the first model load picked ${choice}`,
    );
    return result;
  }, (error: unknown) => {
    pending = undefined; // a bad DPR_BACKEND, say: the next load says so again
    throw error;
  });
  return pending;
}
