// A pinned library stays mapped after Deno's handle to it closes (as happens when a test module's
// or a Web Worker's runtime ends while the library's threads still run), and an unpinned one does
// not: checked in a fresh process through /proc/self/maps (Linux only).
import assert from "node:assert/strict";
import { missingOpenBlas } from "./libraries.ts";

const LIB = "libopenblas.so.0";

async function mappedAfterClose(pin: boolean): Promise<boolean> {
  const code = `
    import { pinLibrary } from ${
    JSON.stringify(new URL("../../../backend/blas/pin_library.ts", import.meta.url).href)
  };
    const lib = Deno.dlopen(${
    JSON.stringify(LIB)
  }, { openblas_get_num_threads: { parameters: [], result: "i32" } });
    if (${pin}) pinLibrary(${JSON.stringify(LIB)});
    lib.close();
    console.log(Deno.readTextFileSync("/proc/self/maps").includes("libopenblas"));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim() === "true";
}

// Linux only; without OpenBLAS ignored (never passed), with a line saying what to install.
const available = Deno.build.os === "linux" && missingOpenBlas("pinLibrary") === undefined;

Deno.test({
  name: "pinLibrary keeps a library mapped after Deno closes its handle",
  ignore: !available,
  async fn() {
    assert.equal(await mappedAfterClose(false), false, "unpinned: unmapped on close");
    assert.equal(await mappedAfterClose(true), true, "pinned: still mapped");
  },
});
