/**
 * Reading and writing NumPy's `.npy` format (version 1.0) for 2-D matrices of little-endian
 * float32 (`'<f4'`), float16 (`'<f2'`), int8 (`'|i1'`) or uint8 (`'|u1'`), the layout `numpy.load` and FAISS users
 * read directly.
 *
 * A file is: the magic `\x93NUMPY`, the version bytes `1 0`, a little-endian uint16 header length,
 * an ASCII header (a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }`
 * padded with spaces and ended by a newline so the data starts at a multiple of 64 bytes), then the
 * `n * d` values in row-major (C) order.
 * @module
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGN = 64;

/** The element types this module reads and writes, as NumPy names them in `descr`. */
export type NpyDtype = "<f4" | "<f2" | "|i1" | "|u1";

/** Bytes per element of each {@link NpyDtype}. */
export const NPY_ITEM_BYTES: Readonly<Record<NpyDtype, number>> = {
  "<f4": 4,
  "<f2": 2,
  "|i1": 1,
  "|u1": 1,
};

/** The parsed header of a 2-D float32 `.npy` file. */
export interface NpyHeader {
  /** Number of rows. */
  rows: number;
  /** Number of columns. */
  cols: number;
  /** Byte offset where the data begins. */
  dataOffset: number;
  /** The element type. */
  dtype: NpyDtype;
}

/**
 * Builds the header bytes (magic, version, length and padded dict) for a matrix.
 * @param rows number of rows
 * @param cols number of columns
 * @param dtype the element type (default float32)
 * @returns the header; the data follows it directly
 */
export function npyHeader(rows: number, cols: number, dtype: NpyDtype = "<f4"): Uint8Array {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(
      `Cannot write npy header: shape must be non-negative integers: (${rows}, ${cols})`,
    );
  }
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const unpadded = 10 + dict.length + 1; // preamble + dict + "\n"
  const total = Math.ceil(unpadded / ALIGN) * ALIGN;
  const text = dict + " ".repeat(total - unpadded) + "\n";
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

/**
 * Encodes a row-major float32 matrix as a complete `.npy` file.
 * @param data row-major values, `rows * cols` of them
 * @param rows number of rows
 * @param cols number of columns
 * @returns the file's bytes
 */
export function encodeNpy(data: Float32Array, rows: number, cols: number): Uint8Array {
  if (data.length !== rows * cols) {
    throw new RangeError(
      `Cannot write npy: data length must equal rows * cols: received ${data.length} for (${rows}, ${cols})`,
    );
  }
  const header = npyHeader(rows, cols);
  const out = new Uint8Array(header.length + data.length * 4);
  out.set(header, 0);
  const view = new DataView(out.buffer, header.length);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/**
 * Parses the header of a 2-D `.npy` file and checks the file's size against it.
 * @param bytes the whole file, or at least its header when `fileSize` is given
 * @param name the file's name, for error messages
 * @param fileSize the file's total size (defaults to `bytes.length`)
 * @param dtypes the element types accepted (default float32 only)
 * @returns the shape, data offset and element type
 */
export function parseNpyHeader(
  bytes: Uint8Array,
  name: string,
  fileSize?: number,
  dtypes: readonly NpyDtype[] = ["<f4"],
): NpyHeader {
  const size = fileSize ?? bytes.length;
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new SyntaxError(`Cannot read ${name}: not a .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6]!;
  let headerLength: number;
  let start: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new SyntaxError(`Cannot read ${name}: truncated .npy header`);
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    throw new SyntaxError(`Cannot read ${name}: unsupported .npy version ${major}`);
  }
  if (bytes.length < start + headerLength) {
    throw new SyntaxError(`Cannot read ${name}: truncated .npy header`);
  }
  const text = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new SyntaxError(`Cannot read ${name}: malformed .npy header ${JSON.stringify(text)}`);
  }
  // NumPy writes int8 as '|i1' and uint8 as '|u1'; '<i1' and '<u1' mean the same.
  const dtype = (descr === "<i1" ? "|i1" : descr === "<u1" ? "|u1" : descr) as NpyDtype;
  if (!dtypes.includes(dtype)) {
    throw new TypeError(
      `Cannot read ${name}: dtype must be ${dtypes.map((d) => `'${d}'`).join(" or ")}` +
        `${dtypes.length === 1 && dtypes[0] === "<f4" ? " (little-endian float32)" : ""}: ` +
        `received '${descr}'`,
    );
  }
  if (fortran !== "False") {
    throw new TypeError(`Cannot read ${name}: the matrix must be in C order, not Fortran order`);
  }
  const dims = shape.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (dims.length !== 2 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`Cannot read ${name}: the matrix must be 2-D: received shape (${shape})`);
  }
  const [rows, cols] = dims as [number, number];
  const dataOffset = start + headerLength;
  const expected = dataOffset + rows * cols * NPY_ITEM_BYTES[dtype];
  if (size !== expected) {
    throw new RangeError(
      `Cannot read ${name}: shape (${rows}, ${cols}) needs ${expected} bytes but the file has ${size}` +
        (size < expected ? " (truncated)" : ""),
    );
  }
  return { rows, cols, dataOffset, dtype };
}

/**
 * Decodes a complete 2-D float32 `.npy` file.
 * @param bytes the file's bytes
 * @param name the file's name, for error messages
 * @returns the shape and the row-major values
 */
export function decodeNpy(
  bytes: Uint8Array,
  name: string,
): { rows: number; cols: number; data: Float32Array } {
  const { rows, cols, dataOffset } = parseNpyHeader(bytes, name);
  const data = new Float32Array(rows * cols);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset, rows * cols * 4);
  for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
  return { rows, cols, data };
}
