/**
 * Where a model's or tokenizer's files come from: a local folder, a URL, or a hub cache.
 * Readers of `config.json`, `vocab.txt`, weights and so on only see this interface.
 * @module
 */
import { type ByteReader, memoryReader, openFileReader } from "./byte_reader.ts";

/** A read-only view of one model folder. */
export interface FileSource {
  /** Human-readable origin, used in error messages (a path, a URL or a hub id). */
  readonly description: string;
  /** The file's bytes, or `null` when the folder has no such file. Other failures throw. */
  readFile(name: string): Promise<Uint8Array | null>;
  /**
   * Opens a file for reading by ranges (a weight file read one tensor at a time), or `null` when
   * the folder has no such file. Optional: without it the file is read whole.
   */
  openReader?(name: string): Promise<ByteReader | null>;
}

/**
 * Opens a file of `source` for reading by ranges: through its `openReader` where it has one,
 * else read whole into memory.
 * @param source the folder
 * @param name the file
 * @returns a reader (close it), or `null` when the file is absent
 */
export async function openSourceFile(
  source: FileSource,
  name: string,
): Promise<ByteReader | null> {
  const description = `${name} in ${source.description}`;
  if (source.openReader !== undefined) return await source.openReader(name);
  const bytes = await source.readFile(name);
  return bytes === null ? null : memoryReader(bytes, description);
}

/** Reads a file of `source` as UTF-8 text, or `null` when it is absent. */
export async function readText(source: FileSource, name: string): Promise<string | null> {
  const bytes = await source.readFile(name);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/** Reads and parses a JSON file of `source`, or `null` when it is absent. */
export async function readJson(source: FileSource, name: string): Promise<unknown | null> {
  const text = await readText(source, name);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse ${name} in ${source.description}: ${(error as Error).message}`,
    );
  }
}

/**
 * Reads a whole file into one buffer of its size. `Deno.readFile` holds the bytes twice while it
 * hands them over (peak memory twice the file): for a multi-GB index or checkpoint that is the
 * difference between fitting and not.
 * @param path the file
 * @returns its bytes
 */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = await file.read(bytes.subarray(done));
      if (n === null) return bytes.subarray(0, done); // shrank while being read
      done += n;
    }
    // Grew while being read: the rest, the plain way.
    const rest = await readAllFrom(file);
    if (rest.length === 0) return bytes;
    const all = new Uint8Array(size + rest.length);
    all.set(bytes);
    all.set(rest, size);
    return all;
  } finally {
    file.close();
  }
}

async function readAllFrom(file: Deno.FsFile): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk = new Uint8Array(1 << 16);
    const n = await file.read(chunk);
    if (n === null) break;
    parts.push(chunk.subarray(0, n));
  }
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A folder on the local file system (needs `--allow-read`). */
export class LocalFolderSource implements FileSource {
  /** The folder's path. */
  readonly path: string;
  /** Names the folder in messages: its path. */
  readonly description: string;

  /**
   * Points at a folder; nothing is read yet.
   * @param path the folder that holds the files
   */
  constructor(path: string) {
    this.path = path.replace(/\/+$/, "");
    this.description = this.path;
  }

  /**
   * Reads a file of the folder.
   * @param name a path inside the folder
   * @returns its bytes, or null when it does not exist
   */
  async readFile(name: string): Promise<Uint8Array | null> {
    try {
      return await readWholeFile(this.#path(name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** Opens a file of the folder for reading by ranges, or `null` when it is absent. */
  async openReader(name: string): Promise<ByteReader | null> {
    const path = this.#path(name);
    try {
      if (!(await Deno.stat(path)).isFile) return null;
      return await openFileReader(path, `${name} in ${this.description}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  #path(name: string): string {
    if (name.includes("..") || name.startsWith("/")) {
      throw new RangeError(`Cannot read ${name} from ${this.path}: file names must stay inside it`);
    }
    return `${this.path}/${name}`;
  }
}
