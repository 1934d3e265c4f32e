/**
 * Typed arrays handed to FFI calls. Deno 2.5's FFI types take a `BufferSource` (a view over an
 * `ArrayBuffer`), while tfjs's and most other arrays are typed over `ArrayBufferLike` (which
 * includes `SharedArrayBuffer`). The arrays passed here are never shared: this says so once.
 * @module
 */

/**
 * The same array, typed as the `BufferSource` Deno's FFI parameters and `UnsafePointer.of` take.
 *
 * @param view an array over a plain (never shared) `ArrayBuffer`
 * @returns `view` itself
 */
export function ffiView(view: ArrayBufferView): BufferSource {
  return view as BufferSource;
}
