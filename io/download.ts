/**
 * Downloading one file over HTTP, resumably and atomically: Range requests continue a partial
 * file, redirects are followed by hand (the token stays with its host), the sha256 a hub promises
 * is checked, and the file is renamed into place only when complete.
 * @module
 */
import { createHash } from "node:crypto";
import { pathExists } from "./path_exists.ts";
import type { Progress } from "./progress.ts";
import { SILENT_PROGRESS } from "./progress.ts";

/**
 * The body of a response that came compressed although identity was asked for. Deno hands such a
 * body over as sent; a browser (which ignores the request header) inflates it but keeps the
 * Content-Encoding header, so a gzip body is inflated here only when it starts with gzip's magic.
 */
async function decodedBody(
  body: ReadableStream<Uint8Array>,
  encoding: string,
): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const first = await reader.read();
  const rest = new ReadableStream<Uint8Array>({
    start(controller): void {
      if (!first.done) controller.enqueue(first.value);
    },
    async pull(controller): Promise<void> {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason): Promise<void> {
      return reader.cancel(reason);
    },
  });
  const head = first.done ? new Uint8Array(0) : first.value;
  const gzip = (encoding === "gzip" || encoding === "x-gzip") && head[0] === 0x1f &&
    head[1] === 0x8b;
  return gzip
    ? rest.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    )
    : rest;
}

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** The fetch to use. */
  fetch?: typeof fetch;
  /** Bearer token. */
  token?: string;
  /** Receives bytes done of the total. */
  progress?: Progress;
  /** Receives the file's validator (the hub's `x-linked-etag` or `etag`) once it is saved. */
  onValidator?: (tag: string) => void;
}

/**
 * The sha256 a hub response promises: `x-linked-etag` or `etag` holding 64 hex digits (LFS
 * files); `null` for other files, whose etag is a git blob id.
 * @param headers response headers
 * @returns the lowercase hex digest, or null
 */
export function expectedSha256(headers: Headers): string | null {
  const value = validatorOf(headers)?.toLowerCase() ?? "";
  return /^[0-9a-f]{64}$/.test(value) ? value : null;
}

/** A response to a file request, with what its redirects said. */
interface FileResponse {
  /** The final response. */
  response: Response;
  /** The sha256 a redirect promised (the hub's `x-linked-etag` on its way to storage). */
  linkedSha: string | null;
  /** The first response's validator. */
  validator: string | null;
}

/**
 * Asks for `url` from byte `have` on, following redirects by hand: the hub puts the LFS file's
 * sha256 (x-linked-etag) on its redirect to the storage host, whose own etag need not be the
 * digest. The token never goes to another host.
 */
async function requestFile(
  url: string,
  have: number,
  options: DownloadOptions,
): Promise<FileResponse> {
  const fetchImpl = options.fetch ?? fetch;
  const headers = new Headers();
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  if (have > 0) headers.set("Range", `bytes=${have}-`);
  // Byte counts, ranges and digests are about the file itself: ask for it uncompressed (fetch
  // would inflate a gzip body silently while Content-Length counts the compressed bytes).
  headers.set("Accept-Encoding", "identity");
  let response: Response;
  let linkedSha: string | null = null;
  let validator: string | null = null;
  let current = url;
  for (let hop = 0;; hop++) {
    try {
      response = await fetchImpl(current, { headers, redirect: "manual" });
    } catch (error) {
      throw new Error(`Cannot download ${url}: ${(error as Error).message}`);
    }
    if (hop === 0) validator = validatorOf(response.headers);
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || location === null) break;
    await response.body?.cancel();
    if (hop >= 10) throw new Error(`Cannot download ${url}: more than 10 redirects`);
    linkedSha = expectedSha256(response.headers) ?? linkedSha;
    const next = new URL(location, current);
    // Never send the token to another host.
    if (next.origin !== new URL(current).origin) headers.delete("Authorization");
    current = next.href;
  }
  if (response.type === "opaqueredirect") {
    // Browsers hide redirects: let fetch follow them (the digest is then the final etag's).
    response = await fetchImpl(url, { headers });
  }
  return { response, linkedSha, validator };
}

/** The whole file's size a response announces; 0 when it does not say (a compressed body). */
function announcedTotal(response: Response, resumed: boolean, encoded: boolean): number {
  if (encoded) return 0; // the length of the compressed body says nothing about the file's
  if (resumed) {
    const range = /\/(\d+)\s*$/.exec(response.headers.get("content-range") ?? "");
    return range ? Number(range[1]) : 0;
  }
  return Number(response.headers.get("content-length") ?? 0);
}

/** Feeds the bytes of `path` to `hash` (a resumed download's digest covers the whole file). */
async function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  using existing = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  while (true) {
    const n = await existing.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
}

/**
 * Appends `body` (inflated first when it came with `encoding`) to `file`, hashing it when `hash`
 * is given; returns the bytes the file holds.
 * @throws Error saying the connection was cut and the partial file is kept
 */
async function appendBody(
  url: string,
  body: ReadableStream<Uint8Array>,
  encoding: string | null,
  file: Deno.FsFile,
  partial: string,
  start: { have: number; total: number },
  hash: ReturnType<typeof createHash> | null,
  progress: Progress,
): Promise<number> {
  let { have } = start;
  const { total } = start;
  try {
    const stream = encoding === null ? body : await decodedBody(body, encoding);
    const reader = stream.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let p = 0;
      while (p < value.length) p += await file.write(value.subarray(p));
      hash?.update(value);
      have += value.length;
      progress.update(have, total);
    }
  } catch (error) {
    file.close();
    progress.finish();
    throw new Error(
      `Cannot download ${url}: the connection was cut after ${have}${
        total ? ` of ${total}` : ""
      } bytes (${(error as Error).message}); the partial file ${partial} is kept and the next ` +
        `try resumes it`,
    );
  }
  return have;
}

/**
 * Downloads `url` to `dest` through `dest + ".incomplete"`: resumes a partial file with a Range
 * request, checks the size and the sha256 the server promises, then renames into place.
 * A cut connection keeps the partial file for the next try; a checksum mismatch deletes it.
 * @param url what to download
 * @param dest the final path (its folder is created)
 * @param options fetch, token, progress
 * @returns false when the server answers 404 (nothing is written then)
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<boolean> {
  const progress = options.progress ?? SILENT_PROGRESS;
  const partial = `${dest}.incomplete`;
  let have = 0;
  try {
    have = (await Deno.stat(partial)).size;
  } catch {
    have = 0;
  }
  const { response, linkedSha, validator } = await requestFile(url, have, options);
  if (response.status === 404) {
    await response.body?.cancel();
    return false;
  }
  if (response.status === 416 && have > 0) {
    // The partial file is not a prefix the server recognises: start over.
    await response.body?.cancel();
    await Deno.remove(partial);
    return downloadFile(url, dest, options);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    const hint = response.status === 401 || response.status === 403
      ? " (a private or gated repository needs HF_TOKEN)"
      : "";
    throw new Error(
      `Cannot download ${url}: HTTP ${response.status} ${response.statusText}${hint}`,
    );
  }
  const resumed = response.status === 206;
  if (!resumed) have = 0;
  const expected = linkedSha ?? expectedSha256(response.headers);
  const encoding = (response.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const encoded = encoding !== "" && encoding !== "identity";
  if (resumed && encoded) {
    // A range of compressed bytes cannot be appended to the file: start over.
    await response.body.cancel();
    await Deno.remove(partial);
    return downloadFile(url, dest, options);
  }
  const total = announcedTotal(response, resumed, encoded);
  const hash = expected === null ? null : createHash("sha256");
  const slash = dest.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(dest.slice(0, slash), { recursive: true });
  if (resumed && hash !== null) await hashFile(hash, partial);
  const file = await Deno.open(
    partial,
    resumed ? { append: true } : { write: true, create: true, truncate: true },
  );
  const bodyEncoding = encoded ? encoding : null;
  have = await appendBody(
    url,
    response.body,
    bodyEncoding,
    file,
    partial,
    { have, total },
    hash,
    progress,
  );
  file.close();
  progress.finish();
  if (total > 0 && have !== total) {
    throw new Error(
      `Cannot download ${url}: the connection ended after ${have} of ${total} bytes; the ` +
        `partial file ${partial} is kept and the next try resumes it`,
    );
  }
  if (hash !== null) {
    const actual = hash.digest("hex");
    if (actual !== expected) {
      await Deno.remove(partial);
      throw new Error(
        `Cannot download ${url}: sha256 mismatch: the server promised ${expected}, the data ` +
          `hashes to ${actual}; the download was discarded`,
      );
    }
  }
  try {
    await Deno.rename(partial, dest);
  } catch (error) {
    // Another process downloading the same file finished first.
    if (error instanceof Deno.errors.NotFound && await pathExists(dest)) return true;
    throw error;
  }
  if (validator !== null) options.onValidator?.(validator);
  return true;
}

/**
 * What identifies a hub file's version: `x-linked-etag` (a large file's sha256) or `etag` (a git
 * blob id), unquoted; null when the response has neither.
 * @param headers the hub's response headers (before any redirect)
 */
export function validatorOf(headers: Headers): string | null {
  const tag = headers.get("x-linked-etag") ?? headers.get("etag");
  if (tag === null) return null;
  const value = tag.replace(/^W\//, "").replace(/"/g, "").trim();
  return value === "" ? null : value;
}
