import { deepEqual, throws } from "node:assert/strict";
import { blasLibrary, registerBlasBackend } from "../../../backend/blas/register.ts";
import { missingOpenBlas } from "./libraries.ts";

// Without OpenBLAS these tests are ignored (never passed), with a line saying what to install.
const noBlas = missingOpenBlas("blas sgemm") !== undefined;
const blasTest = noBlas ? Deno.test.ignore : Deno.test;
// OpenBLAS stays loaded for the process on purpose (pin_library.ts): Deno 2.5's resource
// sanitizer counts that as a leak.
const keepsLibrary = { sanitizeResources: false };

blasTest(
  "sgemm refuses operands too small for their sizes instead of corrupting memory",
  keepsLibrary,
  async () => {
    // The backend's own handle: OpenBLAS is never unloaded (dlclose with its threads alive is unsafe).
    // OpenBLAS alone (the oneDNN path runs in child processes: onednn_test.ts).
    await registerBlasBackend({ oneDnn: false });
    const lib = blasLibrary()!;
    const a = new Float32Array([1, 2, 3, 4]); // [2, 2]
    const b = new Float32Array([1, 0, 0, 1]); // [2, 2]
    const c = new Float32Array(4);
    lib.sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2);
    deepEqual([...c], [1, 2, 3, 4]);
    throws(
      () => lib.sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, new Float32Array(3), 2),
      /operand C of 2 x 2 with leading dimension 2 needs 4 values/,
    );
    throws(
      () => lib.sgemm(false, true, 2, 3, 2, 1, a, 2, b, 2, 0, new Float32Array(6), 3),
      /operand B of 3 x 2/,
    );
    throws(() => lib.sgemm(false, false, 2, 2, 2, 1, a, 1, b, 2, 0, c, 2), /ld >= 2/);
  },
);
