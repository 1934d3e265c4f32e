/**
 * A {@link DenseIndex} on disk: writing its folder (replaced as a whole) and reading it back with
 * every part checked.
 *
 * ```
 * <dir>/index.json       {"format": "dpr-dense-index", "version": 1, "count": n, "dim": d,
 *                         "dtype": "float32" | "float16" | "int8", "metric": "inner_product",
 *                         "files": {...}, "metadata_fields": {"title": "string", ...}}
 * <dir>/vectors.npy      .npy v1.0, C order, shape (n, d), dtype '<f4', '<f2' or '|i1'
 * <dir>/scales.npy       int8 only: '<f4', shape (n, 1); row i is vectors[i] * scales[i]
 * <dir>/ids.jsonl        n lines, line i is the JSON string id of row i
 * <dir>/metadata.jsonl   n lines, line i is a JSON value (an object such as {"title", "text"})
 * ```
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
}

/** The manifest written to `index.json`. */
export interface IndexManifest {
  /** Always "dpr-dense-index". */
  format: "dpr-dense-index";
  /** Layout version, 1. */
  version: 1;
  /** Number of rows. */
  count: number;
  /** Vector dimension. */
  dim: number;
  /** How the vectors are stored: "float32", "float16" or "int8" (with row scales). */
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
}

/** The default file names. */
export const DEFAULT_FILES: Readonly<Required<IndexFiles>> = {
  vectors: "vectors.npy",
  ids: "ids.jsonl",
  metadata: "metadata.jsonl",
  scales: "scales.npy",
};

/** The `.npy` element type of each storage type. */
export const NPY_DTYPE: Readonly<Record<VectorStorage, NpyDtype>> = {
  float32: "<f4",
  float16: "<f2",
  int8: "|i1",
};
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The manifest of `parts` with the given file names.
 * @param parts the index's contents
 * @param files the file names
 * @returns the manifest
 */
export function manifestOf(parts: IndexParts, files: IndexFiles = DEFAULT_FILES): IndexManifest {
  const { vectors, ids, metadata } = files;
  const manifest: IndexManifest = {
    format: "dpr-dense-index",
    version: 1,
    count: parts.store.rows,
    dim: parts.store.dim,
    dtype: parts.store.storage,
    metric: "inner_product",
    files: parts.store.storage === "int8"
      ? { vectors, ids, metadata, scales: files.scales ?? DEFAULT_FILES.scales }
      : { vectors, ids, metadata },
  };
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
    const { scales, ...defaults } = DEFAULT_FILES;
    const files = {
      ...defaults,
      ...(manifest?.dtype === "int8" ? { scales } : {}),
      ...(manifest?.files ?? {}),
    } as Record<string, unknown>;
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
    await writeAll(file, npyHeader(store.rows, store.dim, NPY_DTYPE[store.storage]));
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
function littleEndianBytes(values: Float32Array | Uint16Array | Int8Array): Uint8Array {
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
