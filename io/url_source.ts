/**
 * A model folder served over http(s): files are fetched on demand and never written to disk, so
 * it works where there is no file system (edge functions, browsers).
 * @module
 */
import type { ByteReader } from "./byte_reader.ts";
import type { FileSource } from "./file_source.ts";
import { openHttpReader } from "./http_reader.ts";

/** Options of {@linkcode UrlSource}. */
export interface UrlSourceOptions {
  /** The fetch to use; default the global `fetch`. */
  fetch?: typeof fetch;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
}

/**
 * Checks a file name requested from a model folder: relative, no `..`, no backslashes.
 * @param name the file name
 * @param where names the folder in the error
 */
export function checkFileName(name: string, where: string): void {
  if (
    name.length === 0 || name.startsWith("/") || name.includes("\\") ||
    name.split("/").some((part) => part === ".." || part === "." || part === "")
  ) {
    throw new RangeError(
      `Cannot read ${JSON.stringify(name)} from ${where}: file names must be relative paths ` +
        `inside the folder`,
    );
  }
}

/** A folder at an http(s) URL; `readFile("config.json")` fetches `<url>/config.json`. */
export class UrlSource implements FileSource {
  /** The folder's URL, without a trailing slash. */
  readonly url: string;
  /** Names the folder in messages: its URL. */
  readonly description: string;
  readonly #fetch: typeof fetch;
  readonly #token?: string;

  /**
   * Points at a folder URL; nothing is fetched yet.
   * @param url the folder's http(s) URL
   * @param options fetch implementation and token
   */
  constructor(url: string, options: UrlSourceOptions = {}) {
    if (!/^https?:\/\//i.test(url)) {
      throw new RangeError(
        `Cannot use ${url} as a URL source: it must start with http:// or https://`,
      );
    }
    this.url = url.replace(/\/+$/, "");
    this.description = this.url;
    this.#fetch = options.fetch ?? fetch;
    if (options.token !== undefined) this.#token = options.token;
  }

  /**
   * Opens a file for reading by HTTP range requests (one tensor at a time; see `http_reader.ts`
   * for servers that do not answer them).
   * @param name the file name in the folder
   * @returns a reader, or `null` when the server answers 404
   */
  async openReader(name: string): Promise<ByteReader | null> {
    const url = this.#fileUrl(name);
    return await openHttpReader(url, `${name} in ${this.url}`, {
      fetch: this.#fetch,
      headers: this.#headers(),
    });
  }

  #fileUrl(name: string): string {
    checkFileName(name, this.url);
    return `${this.url}/${name.split("/").map(encodeURIComponent).join("/")}`;
  }

  #headers(): Headers {
    const headers = new Headers();
    if (this.#token) headers.set("Authorization", `Bearer ${this.#token}`);
    return headers;
  }

  /**
   * Fetches a file of the folder.
   * @param name a path inside the folder
   * @returns its bytes, or null when the server answers 404
   */
  async readFile(name: string): Promise<Uint8Array | null> {
    const url = this.#fileUrl(name);
    const headers = this.#headers();
    let response: Response;
    try {
      response = await this.#fetch(url, { headers });
    } catch (error) {
      throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
    }
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
    }
  }
}
