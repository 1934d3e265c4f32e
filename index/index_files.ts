/**
 * A {@link DenseIndex} on disk: writing its folder (replaced as a whole) and reading it back with
 * every part checked.
 *
 * ```
 * <dir>/index.json       {"format": "dpr-dense-index", "version": 1 | 2, "count": n, "dim": d,
 *                         "dtype": "float32" | "float16" | "int8", "metric": "inner_product",
 *                         "files": {...}, "metadata_fields": {"title": "string", ...}}
 * <dir>/vectors.npy      .npy v1.0, C order, shape (n, d), dtype '<f4', '<f2', '|u1' (int8,
 *                        version 2: codes) or '|i1' (int8, version 1)
 * <dir>/scales.npy       int8 only: '<f4', shape (n, 1), one scale per row
 * <dir>/codebook.npy     int8 version 2 only: '<f4', shape (1, 256), the level of each code
 * <dir>/dimensions.npy   int8 version 2 only: '<f4', shape (2, d), per-dimension offset and spread
 * <dir>/originals.npy    optional, float16 and int8 only: '<f4', shape (n, d), the vectors as
 *                        they were added, which searches read by rows to re-score candidates
 * <dir>/ids.jsonl        n lines, line i is the JSON string id of row i
 * <dir>/metadata.jsonl   n lines, line i is a JSON value (an object such as {"title", "text"})
 * ```
 *
 * Version 2 is written for int8 (`int8_codebook.ts`): row i is
 * `offset + spread * (scales[i] * codebook[vectors[i]])`, in numpy
 * `offset, spread = np.load("dimensions.npy"); x = offset + spread * (np.load("scales.npy") *
 * np.load("codebook.npy")[0][np.load("vectors.npy")])`. Version 1 (float32 and float16, which it
 * still describes, and int8 indexes written before) has row i of int8 as `vectors[i] * scales[i]`.
 *
 * `files` names each part: plain file names inside the folder (no path separators, no `..`).
 * `metadata_fields`, when present, lists the fields every metadata line holds and their JSON types;
 * loading refuses a line that lacks one.
 *
 * Reading is in `read_index.ts`. Replacing: a new folder is written under a temporary name and renamed into place. An existing
 * index folder gets the new parts under names the current `index.json` does not use, then one
 * rename of the new `index.json` over the old commits them all, and the old parts are removed: a
 * crash at any point leaves either the old index or the new one, whole.
 * @module
 */
import { type NpyDtype, npyHeader } from "./npy.ts";
import { commonFields, type MetadataFieldType } from "./row_metadata.ts";
import type { RowMetadata } from "./vector_index.ts";
import type { VectorStorage, VectorStore } from "./vector_store.ts";
import type { OriginalVectors } from "./original_vectors.ts";

/** The parts of an index and their file names. */
export interface IndexFiles {
  /** The vectors, a 2-D `.npy` file. */
  vectors: string;
  /** The ids, JSON lines. */
  ids: string;
  /** The metadata, JSON lines. */
  metadata: string;
  /** int8 storage: the row scales, a `(n, 1)` float32 `.npy` file. */
  scales?: string;
  /** int8 storage, version 2: the levels of the codes, a `(1, 256)` float32 `.npy` file. */
  codebook?: string;
  /** int8 storage, version 2: offsets and spreads per dimension, a `(2, d)` float32 `.npy` file. */
  dimensions?: string;
  /**
   * float16 and int8 storage, when kept: the float32 vectors as they were added, an `(n, d)`
   * `.npy` file (`original_vectors.ts`).
   */
  originals?: string;
}

/** The manifest written to `index.json`. */
export interface IndexManifest {
  /** Always "dpr-dense-index". */
  format: "dpr-dense-index";
  /** Layout version: 2 for int8 with a codebook, else 1. */
  version: 1 | 2;
  /** Number of rows. */
  count: number;
  /** Vector dimension. */
  dim: number;
  /** How the vectors are stored: "float32", "float16" or "int8" (codes, or values with row scales). */
  dtype: VectorStorage;
  /** Always "inner_product". */
  metric: "inner_product";
  /** File names of the parts (plain names inside the folder). */
  files: IndexFiles;
  /** The fields every metadata line holds, with their JSON types (absent: not checked). */
  metadata_fields?: Record<string, MetadataFieldType>;
}

/** What an index folder holds, in memory. */
export interface IndexParts {
  /** The vectors. */
  store: VectorStore;
  /** One id per row. */
  ids: string[];
  /** One metadata value per row. */
  metadata: RowMetadata[];
  /** The float32 originals of a float16 or int8 index, when kept. */
  originals?: OriginalVectors | null;
}

/** The default file names. */
export const DEFAULT_FILES: Readonly<Required<IndexFiles>> = {
  vectors: "vectors.npy",
  ids: "ids.jsonl",
  metadata: "metadata.jsonl",
  scales: "scales.npy",
  codebook: "codebook.npy",
  dimensions: "dimensions.npy",
  originals: "originals.npy",
};

/** The `.npy` element type of each storage type (int8: version 1's; version 2 stores `'|u1'`). */
export const NPY_DTYPE: Readonly<Record<VectorStorage, NpyDtype>> = {
  float32: "<f4",
  float16: "<f2",
  int8: "|i1",
};

/**
 * The parts an index of this type and version has, beside vectors, ids and metadata.
 * @param dtype the storage type
 * @param version the layout version
 * @returns the `files` keys
 */
export function extraParts(dtype: VectorStorage, version: 1 | 2): Array<keyof IndexFiles> {
  if (dtype !== "int8") return [];
  return version === 2 ? ["scales", "codebook", "dimensions"] : ["scales"];
}

/**
 * The `.npy` element type of the vectors of a store.
 * @param store the store
 * @returns the element type
 */
export function vectorsDtype(store: VectorStore): NpyDtype {
  return store.storage === "int8" && !store.legacyInt8 ? "|u1" : NPY_DTYPE[store.storage];
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The manifest of `parts` with the given file names.
 * @param parts the index's contents
 * @param files the file names
 * @returns the manifest
 */
export function manifestOf(parts: IndexParts, files: IndexFiles = DEFAULT_FILES): IndexManifest {
  const { vectors, ids, metadata } = files;
  const { store } = parts;
  const version = store.storage === "int8" && !store.legacyInt8 ? 2 : 1;
  const manifest: IndexManifest = {
    format: "dpr-dense-index",
    version,
    count: store.rows,
    dim: store.dim,
    dtype: store.storage,
    metric: "inner_product",
    files: { vectors, ids, metadata },
  };
  for (const key of extraParts(store.storage, version)) {
    manifest.files[key] = files[key] ?? DEFAULT_FILES[key];
  }
  if (parts.originals) manifest.files.originals = files.originals ?? DEFAULT_FILES.originals;
  const fields = commonFields(parts.metadata);
  if (fields !== undefined) manifest.metadata_fields = fields;
  return manifest;
}

/**
 * Checks a file name from `index.json`: a plain name inside the index folder.
 * @param key the `files` entry, for errors
 * @param name the value
 * @param where names the index
 */
export function checkPartName(key: string, name: unknown, where: string): asserts name is string {
  if (typeof name !== "string") {
    throw new TypeError(
      `Cannot load DenseIndex from ${where}: index.json files.${key} must be a file name: ` +
        `received ${JSON.stringify(name)}`,
    );
  }
  if (
    name === "" || name === "." || name === ".." || /[/\\\0]/.test(name) || name === "index.json"
  ) {
    throw new RangeError(
      `Cannot load DenseIndex from ${where}: index.json files.${key} must be a plain file name ` +
        `inside the index folder (no path separators, not "..", not index.json): received ` +
        JSON.stringify(name),
    );
  }
}

/**
 * Writes `parts` to `dir`, replacing an existing index there as a whole (module doc).
 * @param dir the destination folder
 * @param parts the index's contents
 */
export async function writeIndex(dir: string, parts: IndexParts): Promise<void> {
  dir = dir.replace(/(.)\/+$/, "$1");
  const tag = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  let existing: Deno.FileInfo | null = null;
  try {
    existing = await Deno.stat(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (existing === null) {
    const tmp = `${dir}.tmp-${tag}`;
    try {
      await Deno.mkdir(tmp, { recursive: true });
      await writeParts(tmp, manifestOf(parts), parts);
      await Deno.rename(tmp, dir);
    } catch (error) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw error;
    }
    return;
  }
  if (!existing.isDirectory) {
    throw new TypeError(`Cannot save DenseIndex to ${dir}: it exists and is not a folder`);
  }
  const old = await currentFiles(dir);
  // New parts under names the current index.json does not use: the defaults, or tagged ones.
  const taken = new Set(old);
  const files = Object.values(DEFAULT_FILES).some((name) => taken.has(name))
    ? Object.fromEntries(
      Object.entries(DEFAULT_FILES).map(([key, name]) => [key, tagged(name, tag)]),
    ) as unknown as IndexFiles
    : DEFAULT_FILES;
  const manifest = manifestOf(parts, files);
  const written = Object.values(manifest.files) as string[];
  const created: string[] = [];
  try {
    await writeParts(dir, manifest, parts, `index.json.tmp-${tag}`, created);
    await Deno.rename(`${dir}/index.json.tmp-${tag}`, `${dir}/index.json`); // the commit
  } catch (error) {
    for (const path of created) await Deno.remove(path).catch(() => {});
    throw error;
  }
  for (const name of old) {
    if (!written.includes(name)) await Deno.remove(`${dir}/${name}`).catch(() => {});
  }
}

/** `vectors.npy` -> `vectors-<tag>.npy`. */
function tagged(name: string, tag: string): string {
  const dot = name.lastIndexOf(".");
  return `${name.slice(0, dot)}-${tag}${name.slice(dot)}`;
}

/** The part names of the index in `dir` (those that are plain names), or none. */
async function currentFiles(dir: string): Promise<string[]> {
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    const { vectors, ids, metadata } = DEFAULT_FILES;
    const files: Record<string, unknown> = { vectors, ids, metadata };
    if (manifest?.dtype === "int8") {
      for (const key of extraParts("int8", manifest?.version === 2 ? 2 : 1)) {
        files[key] = DEFAULT_FILES[key];
      }
    }
    Object.assign(files, manifest?.files ?? {});
    return Object.entries(files).flatMap(([key, name]) => {
      try {
        checkPartName(key, name, dir);
        return [name];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

async function writeParts(
  dir: string,
  manifest: IndexManifest,
  parts: IndexParts,
  manifestName = "index.json",
  created: string[] = [],
): Promise<void> {
  const { store } = parts;
  const writeFileSynced = async (
    path: string,
    write: (file: Deno.FsFile) => Promise<void>,
  ): Promise<void> => {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    created.push(path);
    try {
      await write(file);
      await file.sync();
    } finally {
      file.close();
    }
  };
  const writeText = (path: string, text: string): Promise<void> => {
    const bytes = new TextEncoder().encode(text);
    return writeFileSynced(path, (file) => writeAll(file, bytes));
  };
  await writeFileSynced(`${dir}/${manifest.files.vectors}`, async (file) => {
    await writeAll(file, npyHeader(store.rows, store.dim, vectorsDtype(store)));
    const rowsPerWrite = Math.max(1, Math.floor((4 << 20) / (4 * store.dim)));
    const values = store.values;
    for (let start = 0; start < store.rows; start += rowsPerWrite) {
      const end = Math.min(store.rows, start + rowsPerWrite);
      await writeAll(file, littleEndianBytes(values.subarray(start * store.dim, end * store.dim)));
    }
  });
  if (manifest.files.scales !== undefined) {
    await writeFileSynced(`${dir}/${manifest.files.scales}`, async (file) => {
      await writeAll(file, npyHeader(store.rows, 1, "<f4"));
      await writeAll(file, littleEndianBytes(store.scales!));
    });
  }
  const int8 = store.int8Parameters;
  if (manifest.files.codebook !== undefined && int8 !== null) {
    await writeFileSynced(`${dir}/${manifest.files.codebook}`, async (file) => {
      await writeAll(file, npyHeader(1, int8.codebook.length, "<f4"));
      await writeAll(file, littleEndianBytes(int8.codebook));
    });
  }
  if (manifest.files.dimensions !== undefined && int8 !== null) {
    await writeFileSynced(`${dir}/${manifest.files.dimensions}`, async (file) => {
      await writeAll(file, npyHeader(2, store.dim, "<f4"));
      await writeAll(file, littleEndianBytes(int8.offset));
      await writeAll(file, littleEndianBytes(int8.spread));
    });
  }
  const originals = parts.originals;
  if (manifest.files.originals !== undefined && originals) {
    await writeFileSynced(`${dir}/${manifest.files.originals}`, async (file) => {
      await writeAll(file, npyHeader(originals.rows, originals.dim, "<f4"));
      for await (const block of originals.blocks()) await writeAll(file, littleEndianBytes(block));
    });
  }
  await writeText(`${dir}/${manifest.files.ids}`, jsonLines(parts.ids));
  await writeText(`${dir}/${manifest.files.metadata}`, jsonLines(parts.metadata));
  await writeText(`${dir}/${manifestName}`, JSON.stringify(manifest, null, 2) + "\n");
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

function jsonLines(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v) + "\n").join("");
}

/** The bytes of `values` in little-endian order (a view where the platform is little-endian). */
function littleEndianBytes(
  values: Float32Array | Uint16Array | Int8Array | Uint8Array,
): Uint8Array {
  if (LITTLE_ENDIAN || values.BYTES_PER_ELEMENT === 1) {
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  values.forEach((x: number, i: number) =>
    values.BYTES_PER_ELEMENT === 4
      ? view.setFloat32(i * 4, x, true)
      : view.setUint16(i * 2, x, true)
  );
  return out;
}
