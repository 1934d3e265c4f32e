/**
 * A model repository on a Hugging Face-compatible hub, mirrored into a local cache. Files are
 * downloaded from `<endpoint>/<id>/resolve/<revision>/<file>` on first use: resumable (HTTP
 * Range), verified against the sha256 the hub sends for large (LFS) files, and written
 * atomically (a `.incomplete` file renamed into place), so a later offline load reads only the
 * cache.
 *
 * The endpoint comes from the `endpoint` option or the `HF_ENDPOINT` environment variable; this
 * project names no default host, so one of them must be set for downloads.
 * @module
 */
import { parseFlagWord, readEnv } from "../backend/env.ts";
import { createHash } from "node:crypto";
import type { FileSource } from "./file_source.ts";
import { pathExists } from "./path_exists.ts";
import type { Progress } from "./progress.ts";
import { SILENT_PROGRESS, stderrIsTerminal, stderrProgress } from "./progress.ts";
import { checkFileName } from "./url_source.ts";

/** Options shared by hub downloads and `resolvePretrained`. */
export interface HubOptions {
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** Cache folder; default `DPR_CACHE`, else `<user cache dir>/dpr`. */
  cacheDir?: string;
  /** The fetch to use; default the global `fetch`. */
  fetch?: typeof fetch;
  /** The hub's base URL; default the `HF_ENDPOINT` environment variable. */
  endpoint?: string;
  /** Bearer token for private repositories; default the `HF_TOKEN` environment variable. */
  token?: string;
  /** Never touch the network, only the cache; default true when `HF_HUB_OFFLINE` is 1. */
  offline?: boolean;
  /** Show a progress bar on stderr; default: when stderr is a terminal. */
  progress?: boolean;
}

/**
 * Reads an environment variable, or `undefined` when unset or not permitted.
 * @param name the variable
 * @returns its value
 */
export function env(name: string): string | undefined {
  return readEnv(name);
}

/**
 * The cache folder: `DPR_CACHE`, else `$XDG_CACHE_HOME/dpr`, `~/.cache/dpr` or
 * `%LOCALAPPDATA%/dpr`.
 * @returns the folder's path
 */
export function defaultCacheDir(): string {
  const explicit = env("DPR_CACHE");
  if (explicit) return explicit;
  const base = env("XDG_CACHE_HOME") ??
    (env("HOME") ? `${env("HOME")}/.cache` : undefined) ?? env("LOCALAPPDATA");
  if (base === undefined) {
    throw new Error(
      "Cannot find a cache folder: set DPR_CACHE (or pass cacheDir) to the folder for downloads",
    );
  }
  return `${base}/dpr`;
}

/** Hub ids look like `org/name` (or a bare `name`). */
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)?$/;

/**
 * Tells whether a string is shaped like a hub repository id.
 * @param id the string
 * @returns true for `org/name` or `name`
 */
export function isHubId(id: string): boolean {
  return HUB_ID.test(id) && !id.includes("..");
}

/** A hub repository at one revision, cached on disk. */
export class HubSource implements FileSource {
  /** The repository id, e.g. `org/name`. */
  readonly id: string;
  /** The revision. */
  readonly revision: string;
  /** The cache folder holding this repository's revision. */
  readonly folder: string;
  readonly description: string;
  readonly #options: HubOptions;

  /**
   * Points at a repository revision and its cache folder; nothing is downloaded yet.
   * @param id repository id such as `org/name`
   * @param options revision, cache folder, endpoint, token, fetch
   */
  constructor(id: string, options: HubOptions = {}) {
    if (!isHubId(id)) {
      throw new RangeError(`Cannot use ${JSON.stringify(id)} as a hub id: expected org/name`);
    }
    this.id = id;
    this.revision = options.revision ?? "main";
    if (this.revision.length === 0 || this.revision.includes("..")) {
      throw new RangeError(`Cannot use revision ${JSON.stringify(this.revision)}`);
    }
    const cacheDir = (options.cacheDir ?? defaultCacheDir()).replace(/\/+$/, "");
    this.folder = `${cacheDir}/hub/${id.replace("/", "--")}/${encodeURIComponent(this.revision)}`;
    this.description = `${id}@${this.revision}`;
    this.#options = options;
  }

  async readFile(name: string): Promise<Uint8Array | null> {
    const path = await this.localPath(name);
    return path === null ? null : await Deno.readFile(path);
  }

  /**
   * Returns the cached file's path, downloading it first when needed.
   * @param name the file name in the repository
   * @returns the path, or `null` when the repository has no such file
   */
  async localPath(name: string): Promise<string | null> {
    checkFileName(name, this.description);
    const path = `${this.folder}/${name}`;
    const cached = await pathExists(path);
    const absent = !cached && await pathExists(`${path}.absent`);
    const offline = this.#options.offline ??
      parseFlagWord(env("HF_HUB_OFFLINE") ?? "") === true;
    const endpoint = (this.#options.endpoint ?? env("HF_ENDPOINT"))?.replace(/\/+$/, "");
    if (cached || absent) {
      // A commit never changes; a branch or tag may move: ask the hub (as Hugging Face's own
      // client does) whether the cached file is still current, keeping the cache when it cannot
      // be reached.
      if (offline || !endpoint || COMMIT.test(this.revision)) return cached ? path : null;
      return await this.#refresh(name, this.#url(endpoint, name), path, cached);
    }
    if (offline) {
      throw new Error(
        `Cannot read ${name} of ${this.description}: it is not in the cache (${path}) and ` +
          `downloads are off (offline)`,
      );
    }
    if (!endpoint) {
      throw new Error(
        `Cannot download ${name} of ${this.description}: set HF_ENDPOINT (or the endpoint ` +
          `option) to the hub's base URL; this library names no default host`,
      );
    }
    const url = this.#url(endpoint, name);
    // Loads running at the same time (a tokenizer and its model, say) share one download of a
    // file: two writers of one partial file would corrupt it.
    let pending = IN_FLIGHT.get(path);
    if (pending === undefined) {
      pending = this.#download(name, url, path).finally(() => IN_FLIGHT.delete(path));
      IN_FLIGHT.set(path, pending);
    }
    return await pending;
  }

  #url(endpoint: string, name: string): string {
    return `${endpoint}/${this.id}/resolve/${encodeURIComponent(this.revision)}/${
      name.split("/").map(encodeURIComponent).join("/")
    }`;
  }

  /**
   * Checks a cached file (or a remembered absence) against the hub: the validator it sends now
   * against the one saved with the download. A changed file is downloaded again (atomically), a
   * file that appeared is downloaded; an unreachable hub, an error status or a cache without a
   * saved validator keep the cache as it is.
   */
  #refresh(name: string, url: string, path: string, cached: boolean): Promise<string | null> {
    let pending = IN_FLIGHT.get(path);
    if (pending !== undefined) return pending;
    pending = (async (): Promise<string | null> => {
      const keep = cached ? path : null;
      const now = await this.#headValidator(url);
      if (now === undefined) return keep; // unreachable or an error: the cache stands
      if (now === null) {
        if (!cached) return null; // still absent
        return path; // gone upstream: keep what we have
      }
      if (cached) {
        const saved = await Deno.readTextFile(`${path}.etag`).catch(() => null);
        if (saved === null) {
          // A cache written before validators were saved: adopt the current one.
          await writeSidecar(`${path}.etag`, now);
          return path;
        }
        if (saved.trim() === now) return path;
      } else {
        await Deno.remove(`${path}.absent`).catch(() => {});
      }
      return await this.#download(name, url, path);
    })().finally(() => IN_FLIGHT.delete(path));
    IN_FLIGHT.set(path, pending);
    return pending;
  }

  /**
   * The hub's validator for `url` by a HEAD request (redirects not followed: the hub's own
   * answer carries it): the tag, `null` for 404, `undefined` when unreachable or another error.
   */
  async #headValidator(url: string): Promise<string | null | undefined> {
    const headers = new Headers({ "Accept-Encoding": "identity" });
    const token = this.#options.token ?? env("HF_TOKEN");
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const seconds = Number(env("HF_HUB_ETAG_TIMEOUT") ?? 10);
    try {
      const response = await (this.#options.fetch ?? fetch)(url, {
        method: "HEAD",
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(
          Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000,
        ),
      });
      await response.body?.cancel();
      if (response.status === 404) return null;
      const redirect = response.status >= 300 && response.status < 400;
      if (!response.ok && !redirect) return undefined;
      return validatorOf(response.headers) ?? undefined;
    } catch {
      return undefined;
    }
  }

  async #download(name: string, url: string, path: string): Promise<string | null> {
    const folderExisted = await pathExists(this.folder);
    const show = this.#options.progress ?? stderrIsTerminal();
    let validator: string | null = null;
    const found = await downloadFile(url, path, {
      fetch: this.#options.fetch ?? fetch,
      token: this.#options.token ?? env("HF_TOKEN"),
      progress: show ? stderrProgress(`${this.id}/${name}`) : SILENT_PROGRESS,
      onValidator: (tag) => {
        validator = tag;
      },
    });
    if (found && validator !== null) await writeSidecar(`${path}.etag`, validator);
    if (!found) {
      // Remember absent files so an offline load does not need to ask again; only inside a
      // repository already seen, so a missing repository leaves no trace in the cache.
      if (folderExisted) await Deno.writeFile(`${path}.absent`, new Uint8Array(0));
      return null;
    }
    return path;
  }
}

/** Downloads and freshness checks in progress in this process, by cache path. */
const IN_FLIGHT = new Map<string, Promise<string | null>>();

/** A full commit id: a revision that never moves. */
const COMMIT = /^[0-9a-f]{40}$/;

/** Writes a small file atomically (a temporary file renamed into place). */
async function writeSidecar(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temporary, text);
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

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
  const fetchImpl = options.fetch ?? fetch;
  const progress = options.progress ?? SILENT_PROGRESS;
  const partial = `${dest}.incomplete`;
  let have = 0;
  try {
    have = (await Deno.stat(partial)).size;
  } catch {
    have = 0;
  }
  const headers = new Headers();
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  if (have > 0) headers.set("Range", `bytes=${have}-`);
  // Byte counts, ranges and digests are about the file itself: ask for it uncompressed (fetch
  // would inflate a gzip body silently while Content-Length counts the compressed bytes).
  headers.set("Accept-Encoding", "identity");
  // Redirects are followed by hand: the hub puts the LFS file's sha256 (x-linked-etag) on its
  // redirect to the storage host, whose own etag need not be the digest.
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
  let total = 0;
  if (encoded) {
    total = 0; // the length of the compressed body says nothing about the file's
  } else if (resumed) {
    const range = /\/(\d+)\s*$/.exec(response.headers.get("content-range") ?? "");
    total = range ? Number(range[1]) : 0;
  } else {
    total = Number(response.headers.get("content-length") ?? 0);
  }
  const hash = createHash("sha256");
  const slash = dest.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(dest.slice(0, slash), { recursive: true });
  if (resumed && expected !== null) {
    // The digest covers the whole file: feed it the bytes already on disk first.
    using existing = await Deno.open(partial, { read: true });
    const buffer = new Uint8Array(1 << 20);
    while (true) {
      const n = await existing.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
    }
  }
  const file = await Deno.open(
    partial,
    resumed ? { append: true } : { write: true, create: true, truncate: true },
  );
  try {
    const reader = encoded
      ? (await decodedBody(response.body, encoding)).getReader()
      : response.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      let p = 0;
      while (p < value.length) p += await file.write(value.subarray(p));
      if (expected !== null) hash.update(value);
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
  file.close();
  progress.finish();
  if (total > 0 && have !== total) {
    throw new Error(
      `Cannot download ${url}: the connection ended after ${have} of ${total} bytes; the ` +
        `partial file ${partial} is kept and the next try resumes it`,
    );
  }
  if (expected !== null) {
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
