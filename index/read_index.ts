/**
 * Reading a {@link DenseIndex} folder (layout in `index_files.ts`) with every part checked: file
 * names inside the folder, shapes and types against `index.json`, one line per row, ids that are
 * unique strings, metadata lines with the fields `index.json` records, finite values.
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import { LocalFolderSource } from "../io/file_source.ts";
import { UrlSource } from "../io/url_source.ts";
import { type NpyDtype, parseNpyHeader } from "./npy.ts";
import { checkFields, parseFieldSchema } from "./row_metadata.ts";
import type { RowMetadata } from "./vector_index.ts";
import { type Int8Parameters, VECTOR_STORAGES, VectorStore } from "./vector_store.ts";
import { LEVELS } from "./int8_codebook.ts";
import { OriginalVectors } from "./original_vectors.ts";
import {
  checkPartName,
  DEFAULT_FILES,
  extraParts,
  type IndexFiles,
  type IndexManifest,
  type IndexParts,
  NPY_DTYPE,
} from "./index_files.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The file source for a location string: an http(s) URL or a local folder.
 * @param location the folder's path or URL
 * @returns the source
 */
export function indexSource(location: string): FileSource {
  return /^https?:\/\//i.test(location) ? new UrlSource(location) : new LocalFolderSource(location);
}

/**
 * Reads an index folder, checking that every part agrees with `index.json`.
 * @param source where the files are
 * @returns the parts, and the vectors' file name
 */
export async function readIndex(
  source: FileSource,
): Promise<IndexParts & { dim: number; vectorsName: string }> {
  const where = source.description;
  const need = async (name: string): Promise<Uint8Array> => {
    const bytes = await source.readFile(name);
    if (bytes === null) {
      throw new Deno.errors.NotFound(`Cannot load DenseIndex from ${where}: ${name} is missing`);
    }
    return bytes;
  };
  const manifest = parseManifest(new TextDecoder().decode(await need("index.json")), where);
  const { count, dim, files, dtype, version } = manifest;
  const codes = dtype === "int8" && version === 2;
  const npy = await need(files.vectors);
  const vectorsType = codes ? "|u1" : NPY_DTYPE[dtype];
  const header = parseNpyHeader(npy, `${where}/${files.vectors}`, undefined, [vectorsType]);
  if (header.rows !== count || header.cols !== dim) {
    throw new RangeError(
      `Cannot load DenseIndex from ${where}: ${files.vectors} has shape ` +
        `(${header.rows}, ${header.cols}) but index.json says (${count}, ${dim})`,
    );
  }
  /**
   * A float32 part of the given shape, every value checked by `broken`, which returns null or
   * the value's name and the rule it breaks.
   */
  const floats = async (
    name: string,
    rows: number,
    cols: number,
    broken: (x: number, at: number) => [string, string] | null,
  ): Promise<Float32Array> => {
    const bytes = await need(name);
    const h = parseNpyHeader(bytes, `${where}/${name}`);
    if (h.rows !== rows || h.cols !== cols) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: ${name} has shape (${h.rows}, ${h.cols}) ` +
          `but must have (${rows}, ${cols})`,
      );
    }
    const values = readTyped(bytes, h.dataOffset, rows * cols, "<f4") as Float32Array;
    for (let i = 0; i < values.length; i++) {
      const rule = broken(values[i]!, i);
      if (rule !== null) {
        throw new RangeError(
          `Cannot load DenseIndex from ${where}: ${rule[0]} of ${name} must be ${rule[1]}: ` +
            `received ${values[i]}`,
        );
      }
    }
    return values;
  };
  let int8: { scales: Float32Array; parameters: Int8Parameters | null } | undefined;
  if (dtype === "int8") {
    const scales = await floats(
      files.scales!,
      count,
      1,
      (s, i) => s >= 0 && s < Infinity ? null : [`row ${i}`, "a finite scale >= 0"],
    );
    let parameters: Int8Parameters | null = null;
    if (codes) {
      const codebook = await floats(
        files.codebook!,
        1,
        LEVELS,
        (x, i) => Number.isFinite(x) ? null : [`level ${i}`, "finite"],
      );
      const dimensions = await floats(
        files.dimensions!,
        2,
        dim,
        (x, i) => {
          if (i < dim) return Number.isFinite(x) ? null : [`offset ${i}`, "finite"];
          return x > 0 && x < Infinity ? null : [`spread ${i - dim}`, "finite and > 0"];
        },
      );
      parameters = {
        codebook,
        offset: dimensions.subarray(0, dim),
        spread: dimensions.subarray(dim),
      };
    }
    int8 = { scales, parameters };
  }
  const ids = parseJsonLines(await need(files.ids), `${where}/${files.ids}`, count);
  ids.forEach((id, i) => {
    if (typeof id !== "string") {
      throw new TypeError(
        `Cannot load DenseIndex from ${where}: line ${i + 1} of ${files.ids} must be a JSON ` +
          `string: received ${JSON.stringify(id)}`,
      );
    }
  });
  const metadataPath = `${where}/${files.metadata}`;
  const metadata = parseJsonLines(await need(files.metadata), metadataPath, count);
  if (manifest.metadata_fields !== undefined) {
    checkFields(metadata, manifest.metadata_fields, metadataPath);
  }
  const values = readTyped(npy, header.dataOffset, count * dim, vectorsType);
  if (values instanceof Float32Array) {
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: row ${
          Math.floor(bad / dim)
        } of ${files.vectors} holds NaN or Infinity (a corrupt file?)`,
      );
    }
  }
  if (values instanceof Uint16Array) {
    // A half is NaN or infinite exactly when its exponent bits are all ones.
    let bad = -1;
    for (let i = 0; i < values.length && bad < 0; i++) {
      if ((values[i]! & 0x7c00) === 0x7c00) bad = i;
    }
    if (bad >= 0) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: row ${
          Math.floor(bad / dim)
        } of ${files.vectors} holds NaN or Infinity (a corrupt file?)`,
      );
    }
  }
  const store = VectorStore.fromValues(dtype, dim, values, int8);
  // Opened last, once everything else has passed its checks (the reader stays open).
  const originals = files.originals === undefined
    ? null
    : await OriginalVectors.open(source, files.originals, count, dim);
  return {
    dim,
    store,
    ids: ids as string[],
    metadata: metadata as RowMetadata[],
    originals,
    vectorsName: files.vectors,
  };
}

function parseManifest(text: string, where: string): IndexManifest {
  let manifest: Partial<IndexManifest>;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot load DenseIndex from ${where}: index.json is not JSON: ${(error as Error).message}`,
    );
  }
  if (
    manifest?.format !== "dpr-dense-index" || (manifest.version !== 1 && manifest.version !== 2)
  ) {
    throw new SyntaxError(
      `Cannot load DenseIndex from ${where}: index.json must have format "dpr-dense-index" ` +
        `and version 1 or 2: received ${
          JSON.stringify(manifest?.format)
        } version ${manifest?.version}`,
    );
  }
  const version = manifest.version;
  const { count, dim } = manifest;
  if (!Number.isInteger(count) || count! < 0 || !Number.isInteger(dim) || dim! <= 0) {
    throw new RangeError(
      `Cannot load DenseIndex from ${where}: index.json count and dim must be integers: ` +
        `received ${count} and ${dim}`,
    );
  }
  const dtype = manifest.dtype ?? "float32";
  if (!VECTOR_STORAGES.includes(dtype)) {
    throw new RangeError(
      `Cannot load DenseIndex from ${where}: index.json dtype must be one of ` +
        `${VECTOR_STORAGES.join(", ")}: received ${JSON.stringify(dtype)}`,
    );
  }
  const custom: unknown = manifest.files ?? {};
  if (typeof custom !== "object" || custom === null || Array.isArray(custom)) {
    throw new TypeError(
      `Cannot load DenseIndex from ${where}: index.json files must be an object of file names`,
    );
  }
  const files = { ...DEFAULT_FILES, ...(custom as Partial<IndexFiles>) };
  const kept = (custom as Partial<IndexFiles>).originals !== undefined;
  if (!kept) delete (files as IndexFiles).originals;
  if (kept && dtype === "float32") {
    throw new RangeError(
      `Cannot load DenseIndex from ${where}: index.json names float32 originals ` +
        `(files.originals) for float32 vectors; originals are kept for float16 or int8 only`,
    );
  }
  const used = new Map<string, string>();
  const keys = ["vectors", "ids", "metadata", ...extraParts(dtype, version)];
  for (const key of kept ? [...keys, "originals"] : keys) {
    const name = files[key as keyof IndexFiles];
    checkPartName(key, name, where);
    const other = used.get(name);
    if (other !== undefined) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: index.json files.${key} and files.${other} name ` +
          `the same file ${JSON.stringify(name)}`,
      );
    }
    used.set(name, key);
  }
  const result: IndexManifest = {
    format: "dpr-dense-index",
    version,
    count: count!,
    dim: dim!,
    dtype,
    metric: "inner_product",
    files,
  };
  if (manifest.metadata_fields !== undefined) {
    result.metadata_fields = parseFieldSchema(manifest.metadata_fields, where);
  }
  return result;
}

/** `length` little-endian values of `dtype` at `offset` (a view when aligned and little-endian). */
function readTyped(
  bytes: Uint8Array,
  offset: number,
  length: number,
  dtype: NpyDtype,
): Float32Array | Uint16Array | Int8Array | Uint8Array {
  const start = bytes.byteOffset + offset;
  if (dtype === "|i1") return new Int8Array(bytes.buffer, start, length);
  if (dtype === "|u1") return new Uint8Array(bytes.buffer, start, length);
  const size = dtype === "<f4" ? 4 : 2;
  const make = (buffer: ArrayBufferLike, at: number) =>
    size === 4 ? new Float32Array(buffer, at, length) : new Uint16Array(buffer, at, length);
  if (LITTLE_ENDIAN) {
    if (start % size === 0) return make(bytes.buffer, start);
    return make(bytes.slice(offset, offset + length * size).buffer, 0);
  }
  const view = new DataView(bytes.buffer, start, length * size);
  return size === 4
    ? Float32Array.from({ length }, (_, i) => view.getFloat32(i * 4, true))
    : Uint16Array.from({ length }, (_, i) => view.getUint16(i * 2, true));
}

/**
 * Index of the first NaN or infinite value, or -1.
 * @param values the values
 * @returns the index
 */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    // x - x is NaN exactly for NaN and for infinities.
    if (x - x !== 0) return i;
  }
  return -1;
}

function parseJsonLines(bytes: Uint8Array, name: string, expected: number): unknown[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SyntaxError(`Cannot read ${name}: it is not valid UTF-8`);
  }
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new SyntaxError(`Cannot read ${name}: the last line is not terminated (truncated file?)`);
  }
  const lines = text === "" ? [] : text.slice(0, -1).split("\n");
  if (lines.length !== expected) {
    throw new RangeError(
      `Cannot read ${name}: expected ${expected} lines (one per row) but found ${lines.length}`,
    );
  }
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`Cannot read ${name}: line ${i + 1}: ${(error as Error).message}`);
    }
  });
}
