/**
 * `fromPretrained({ dtype })` on blas (OpenBLAS with oneDNN where installed), in a child process
 * (the test runner never starts oneDNN's OpenMP threads): the fixture models' int8 / float16
 * outputs against float32 through the blas quantized kernel. Ignored, with a line saying what to
 * install, without OpenBLAS.
 */
import { runInChild } from "../backend/backends.ts";
import { missingOpenBlas } from "../backend/blas/libraries.ts";

Deno.test({
  name: "dtype int8 / float16 on blas: outputs match float32 (cosine)",
  ignore: missingOpenBlas("blas dtype") !== undefined,
  fn: async () => {
    await runInChild(new URL("./dtype_cases.ts", import.meta.url), "checkDtypesMatchFloat32", [
      "blas",
    ]);
  },
});
