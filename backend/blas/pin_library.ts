/**
 * Keeps a native library mapped for the rest of the process.
 *
 * Deno closes a `Deno.dlopen` handle when the worker that opened it ends (a `deno test` module,
 * a Web Worker). The BLAS libraries start thread pools (OpenBLAS's pthreads, oneDNN's OpenMP
 * team) that stay parked inside their code; if the last handle closes, the code is unmapped under
 * those threads and the process crashes. Opening the library once more through the C library
 * with `RTLD_NODELETE` makes it stay, whatever happens to Deno's handles.
 * @module
 */

/** `RTLD_NOW | RTLD_NODELETE` for glibc and for macOS. */
const FLAGS: Partial<Record<typeof Deno.build.os, number>> = {
  linux: 0x2 | 0x1000,
  darwin: 0x2 | 0x80,
};

const pinned = new Set<string>();

/**
 * Opens `name` (as `Deno.dlopen` did) once more with `RTLD_NODELETE` and never closes it. Best
 * effort: on other systems, or when the C library cannot be reached, nothing happens.
 * @param name the path or soname that `Deno.dlopen` opened
 */
export function pinLibrary(name: string): void {
  const flags = FLAGS[Deno.build.os];
  if (flags === undefined || pinned.has(name)) return;
  const libc = Deno.build.os === "darwin" ? "/usr/lib/libSystem.B.dylib" : "libc.so.6";
  let handle: Deno.DynamicLibrary<{ dlopen: { parameters: ["buffer", "i32"]; result: "pointer" } }>;
  try {
    handle = Deno.dlopen(libc, { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } });
  } catch {
    return;
  }
  try {
    const path = new TextEncoder().encode(`${name}\0`);
    if (handle.symbols.dlopen(path, flags) !== null) pinned.add(name);
  } finally {
    // The C library itself is never unloaded; the pinned library keeps its own reference.
    handle.close();
  }
}
