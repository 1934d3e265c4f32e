/**
 * A file behind an http(s) URL as a {@linkcode ByteReader}: read by HTTP range requests where the
 * server answers them (206 Partial Content), so a weight file is fetched one tensor at a time and
 * never held whole. A server that ignores ranges sends the whole file: it is then spooled to a
 * temporary file (removed again at once) where the process may write and read files, else held in
 * memory, the only place left.
 * @module
 */
import { type ByteReader, fillingReader, memoryReader, openFileReader } from "./byte_reader.ts";

/** How much the first request asks for: the header of a safetensors file, or a small file. */
const FIRST_BYTES = 1 << 16;

/** Options of {@linkcode openHttpReader}. */
export interface HttpReaderOptions {
  /** The fetch to use. */
  fetch: typeof fetch;
  /** Headers every request carries (authorization). */
  headers: Headers;
}

/**
 * Opens a file at `url` for reading by ranges.
 * @param url the file's URL
 * @param description names the file in error messages
 * @param options fetch and headers
 * @returns a reader (close it), or `null` when the server answers 404
 * @throws Error naming the URL when the request fails or the server answers an error
 */
export async function openHttpReader(
  url: string,
  description: string,
  options: HttpReaderOptions,
): Promise<ByteReader | null> {
  const first = await get(url, options, 0, FIRST_BYTES);
  if (first.status === 404) {
    await first.body?.cancel();
    return null;
  }
  if (first.status === 200) return await wholeBody(first, url, description, options);
  const range = contentRange(first, url);
  if (range === null || range.start !== 0) {
    await first.body?.cancel();
    throw new Error(`Cannot download ${url}: HTTP ${first.status} without a usable Content-Range`);
  }
  const head = await body(first, url);
  const size = range.size;
  const fill = async (offset: number, target: Uint8Array): Promise<void> => {
    if (offset < 0 || offset + target.length > size) {
      throw new RangeError(
        `Cannot read ${description}: bytes ${offset}..${offset + target.length} lie outside the ` +
          `file (${size} bytes)`,
      );
    }
    if (offset + target.length <= head.length) {
      target.set(head.subarray(offset, offset + target.length));
      return;
    }
    if (target.length === 0) return;
    const response = await get(url, options, offset, target.length);
    const got = contentRange(response, url);
    if (response.status !== 206 || got === null || got.start !== offset) {
      await response.body?.cancel();
      throw new Error(
        `Cannot download ${url}: HTTP ${response.status} for bytes ${offset}..${
          offset + target.length
        } (the server stopped answering range requests)`,
      );
    }
    // Straight into the target, chunk by chunk: no buffer of the range's size per request.
    let filled = 0;
    try {
      for await (const chunk of response.body ?? []) {
        if (filled + chunk.length > target.length) {
          filled += chunk.length;
          break; // leaving the loop cancels the rest of the body
        }
        target.set(chunk, filled);
        filled += chunk.length;
      }
    } catch (error) {
      throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
    }
    if (filled !== target.length) {
      throw new RangeError(
        `Cannot read ${description}: asked for ${target.length} bytes at ${offset}, received ` +
          `${filled > target.length ? "more" : filled}; the file changed or is truncated`,
      );
    }
  };
  return fillingReader(description, size, fill);
}

/** A GET of `length` bytes from `offset`, or of the whole file without them. */
async function get(
  url: string,
  options: HttpReaderOptions,
  offset?: number,
  length?: number,
): Promise<Response> {
  const headers = new Headers(options.headers);
  if (offset !== undefined && length !== undefined) {
    headers.set("Range", `bytes=${offset}-${offset + length - 1}`);
  }
  let response: Response;
  try {
    response = await options.fetch(url, { headers });
  } catch (error) {
    throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
  }
  if (!response.ok && response.status !== 404) {
    await response.body?.cancel();
    throw new Error(`Cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

/** `Content-Range: bytes start-end/size` of a 206 response (size must be known). */
function contentRange(response: Response, url: string): { start: number; size: number } | null {
  if (response.status !== 206) return null;
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("Content-Range") ?? "");
  if (match === null) return null;
  const start = Number(match[1]), size = Number(match[3]);
  if (!Number.isSafeInteger(size) || start > size) {
    throw new Error(`Cannot download ${url}: bad Content-Range ${match[0]}`);
  }
  return { start, size };
}

async function body(response: Response, url: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
  }
}

function granted(name: "read" | "write"): boolean {
  try {
    return Deno.permissions.querySync({ name }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The whole file a server sent without ranges: spooled to a temporary file and read from there
 * (removed as soon as it is open, so nothing is left behind) when files may be written and read,
 * else fetched whole when first read and kept until the reader is closed (one file at a time:
 * tfjs shards read in turn are never all in memory).
 */
async function wholeBody(
  response: Response,
  url: string,
  description: string,
  options: HttpReaderOptions,
): Promise<ByteReader> {
  if (response.body === null || !granted("write") || !granted("read")) {
    const length = Number(response.headers.get("Content-Length") ?? NaN);
    if (!Number.isSafeInteger(length)) return memoryReader(await body(response, url), description);
    await response.body?.cancel();
    return onDemandReader(url, description, length, options);
  }
  const path = await Deno.makeTempFile({ prefix: "dpr-download-" });
  let removed = false;
  try {
    try {
      using file = await Deno.open(path, { write: true, truncate: true });
      await response.body.pipeTo(file.writable, { preventClose: true });
    } catch (error) {
      throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
    }
    const reader = await openFileReader(path, description);
    try {
      await Deno.remove(path); // the open file stays readable; nothing outlives the process
      removed = true;
      return reader;
    } catch {
      return { ...reader, close: () => (reader.close(), Deno.removeSync(path)) };
    }
  } finally {
    if (!removed) await Deno.remove(path).catch(() => {});
  }
}

/**
 * A file of known size from a server without ranges, fetched whole when first read and held
 * until closed.
 */
function onDemandReader(
  url: string,
  description: string,
  size: number,
  options: HttpReaderOptions,
): ByteReader {
  let held: ByteReader | null = null;
  const whole = async (): Promise<ByteReader> => {
    if (held !== null) return held;
    const response = await get(url, options);
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
    }
    const bytes = await body(response, url);
    if (bytes.length !== size) {
      throw new RangeError(
        `Cannot read ${description}: the server sent ${bytes.length} bytes, announced ${size}; ` +
          `the file changed or is truncated`,
      );
    }
    return held = memoryReader(bytes, description);
  };
  return {
    description,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      return (await whole()).read(offset, length);
    },
    async readInto(offset: number, target: Uint8Array): Promise<void> {
      await (await whole()).readInto!(offset, target);
    },
    release(): void {
      held = null;
    },
    close(): void {
      held = null;
    },
  };
}
