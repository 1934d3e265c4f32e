/**
 * Whether the native libraries of the "blas" backend are on this machine, for the `ignore` of
 * the tests that need them. A missing library makes those tests ignored (never passed), with one
 * line saying what to install; `bash .ci/run` installs both, and sets `DPR_EXPECT_BACKENDS`, under
 * which a missing library fails those tests instead.
 *
 * ```ts
 * import { missingOpenBlas } from "./libraries.ts";
 * const missing = missingOpenBlas("blas elementwise");
 * Deno.test({ name: "...", ignore: missing !== undefined, fn() {} });
 * ```
 * @module
 */
import { openBlas } from "../../../backend/blas/library.ts";
import { openOneDnn } from "../../../backend/blas/onednn.ts";
import { expectedBackends } from "../backends.ts";

/**
 * Says why the tests are ignored and returns the reason; but where `DPR_EXPECT_BACKENDS` names
 * blas (CI), returns `undefined`, so the tests run and fail on what is missing.
 */
function said(what: string, missing: string | undefined): string | undefined {
  if (missing === undefined) return undefined;
  if (expectedBackends().includes("blas")) {
    console.log(
      `${what} tests run although blas cannot (DPR_EXPECT_BACKENDS names it): ${missing}`,
    );
    return undefined;
  }
  console.log(`${what} tests ignored: ${missing}`);
  return missing;
}

/**
 * Why OpenBLAS cannot be opened here, naming what to install (printed once as "<what> tests
 * ignored: ..."), or `undefined` when it can.
 *
 * @param what the tests' subject, for the printed line
 * @returns the reason, or `undefined`
 */
export function missingOpenBlas(what: string): string | undefined {
  try {
    openBlas().close();
    return undefined;
  } catch (error) {
    return said(what, error instanceof Error ? error.message : String(error));
  }
}

/**
 * Why oneDNN 2 cannot be opened here, naming what to install (printed once), or `undefined`.
 *
 * @param what the tests' subject, for the printed line
 * @returns the reason, or `undefined`
 */
export function missingOneDnn(what: string): string | undefined {
  const probe = openOneDnn();
  if (typeof probe !== "string") {
    probe.close();
    return undefined;
  }
  return said(
    what,
    `${probe}; install oneDNN 2 (Debian/Ubuntu: \`apt-get install libdnnl2\`), or run ` +
      "`bash .ci/run`, which installs it",
  );
}
