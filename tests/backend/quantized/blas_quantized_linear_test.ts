/**
 * The blas quantized linear kernel (a whole layer dequantized into one reused scratch array, then
 * a native product) against the cpu kernel, on OpenBLAS alone and with oneDNN loaded, each in a child
 * process. Ignored, with a line saying what to install, without the library.
 */
import { runInChild } from "../backends.ts";
import { missingOneDnn, missingOpenBlas } from "../blas/libraries.ts";

const CASES = new URL("./blas_quantized_linear_cases.ts", import.meta.url);

Deno.test({
  name: "blas quantized linear on OpenBLAS equals the cpu kernel (int8, float16)",
  ignore: missingOpenBlas("blas quantized linear") !== undefined,
  fn: async () => {
    await runInChild(CASES, "productsMatchCpu", ["off"]);
  },
});

Deno.test({
  name: "blas quantized linear with oneDNN loaded equals the cpu kernel (int8, float16)",
  ignore: missingOneDnn("blas quantized linear on oneDNN") !== undefined,
  fn: async () => {
    await runInChild(CASES, "productsMatchCpu", ["on"]);
  },
});
