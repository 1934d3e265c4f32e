/**
 * Where a model's or tokenizer's files come from: a local folder, a URL, or a hub cache.
 * Readers of `config.json`, `vocab.txt`, weights and so on only see this interface.
 * @module
 */

/** A read-only view of one model folder. */
export interface FileSource {
  /** Human-readable origin, used in error messages (a path, a URL or a hub id). */
  readonly description: string;
  /** The file's bytes, or `null` when the folder has no such file. Other failures throw. */
  readFile(name: string): Promise<Uint8Array | null>;
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

/** A folder on the local file system (needs `--allow-read`). */
export class LocalFolderSource implements FileSource {
  /** The folder's path. */
  readonly path: string;
  readonly description: string;

  /**
   * Points at a folder; nothing is read yet.
   * @param path the folder that holds the files
   */
  constructor(path: string) {
    this.path = path.replace(/\/+$/, "");
    this.description = this.path;
  }

  async readFile(name: string): Promise<Uint8Array | null> {
    if (name.includes("..") || name.startsWith("/")) {
      throw new RangeError(`Cannot read ${name} from ${this.path}: file names must stay inside it`);
    }
    try {
      return await Deno.readFile(`${this.path}/${name}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }
}
