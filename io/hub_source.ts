/**
 * A model repository on the Hugging Face hub (or a compatible one), read through the standard
 * Hugging Face cache ({@link HubCacheRepo}): files already downloaded by Python tools are used as
 * they are, and files downloaded here are where those tools look. A file is asked about with a
 * HEAD request (its commit and etag), then downloaded once per etag from
 * `<endpoint>/<id>/resolve/<commit>/<file>`: resumable (HTTP Range), verified against the sha256
 * the hub sends for large (LFS) files, and written atomically.
 *
 * The endpoint is the `endpoint` option, else `HF_ENDPOINT`, else the public hub,
 * `https://huggingface.co`. Offline (`HF_HUB_OFFLINE=1` or the `offline` option), or with the hub
 * out of reach, files come from the cache alone.
 * @module
 */
import { parseFlagWord } from "../backend/env.ts";
import { type ByteReader, openFileReader } from "./byte_reader.ts";
import type { FileSource } from "./file_source.ts";
import { COMMIT, defaultCacheDir, env, HubCacheRepo } from "./hf_cache.ts";
import { SILENT_PROGRESS, stderrIsTerminal, stderrProgress } from "./progress.ts";
import { checkFileName } from "./url_source.ts";
import { pathExists } from "./path_exists.ts";
import { downloadFile, validatorOf } from "./download.ts";

export { defaultCacheDir, env } from "./hf_cache.ts";
export { downloadFile, type DownloadOptions, expectedSha256, validatorOf } from "./download.ts";

/** The public Hugging Face hub, the endpoint when neither the option nor `HF_ENDPOINT` is set. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Options shared by hub downloads and `resolvePretrained`. */
export interface HubOptions {
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /**
   * The Hugging Face cache folder (the one holding `models--org--name`); default `DPR_CACHE`,
   * else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
   */
  cacheDir?: string;
  /** The fetch to use; default the global `fetch`. */
  fetch?: typeof fetch;
  /** The hub's base URL; default `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Bearer token for private repositories; default the `HF_TOKEN` environment variable. */
  token?: string;
  /** Never touch the network, only the cache; default true when `HF_HUB_OFFLINE` is 1. */
  offline?: boolean;
  /** Show a progress bar on stderr; default: when stderr is a terminal. */
  progress?: boolean;
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

/** What a HEAD request told about a file. */
type FileInfo =
  | { kind: "found"; commit: string; etag: string }
  | { kind: "absent"; commit: string | null }
  | { kind: "unreachable"; why: string };

/** A hub repository at one revision, read through the Hugging Face cache. */
export class HubSource implements FileSource {
  /** The repository id, e.g. `org/name`. */
  readonly id: string;
  /** The revision. */
  readonly revision: string;
  /** The repository's folder in the Hugging Face cache (`.../models--org--name`). */
  readonly folder: string;
  /** Names the repository in messages: `org/name@revision`. */
  readonly description: string;
  readonly #options: HubOptions;
  readonly #cache: HubCacheRepo;

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
    if (
      this.revision.length === 0 ||
      this.revision.split("/").some((part) => part === "" || part === "." || part === "..")
    ) {
      throw new RangeError(`Cannot use revision ${JSON.stringify(this.revision)}`);
    }
    this.#cache = new HubCacheRepo(options.cacheDir ?? defaultCacheDir(), id);
    this.folder = this.#cache.folder;
    this.description = `${id}@${this.revision}`;
    this.#options = options;
  }

  /**
   * Reads a file of the repository, downloading it into the cache first when needed.
   * @param name a path inside the repository
   * @returns its bytes, or null when the repository lacks it
   */
  async readFile(name: string): Promise<Uint8Array | null> {
    const path = await this.localPath(name);
    return path === null ? null : await Deno.readFile(path);
  }

  /**
   * Opens a file for reading by ranges: the cached copy, downloaded first when needed.
   * @param name the file name in the repository
   * @returns a reader of the cached file, or `null` when the repository has no such file
   */
  async openReader(name: string): Promise<ByteReader | null> {
    const path = await this.localPath(name);
    return path === null ? null : await openFileReader(path, `${name} in ${this.description}`);
  }

  /**
   * Returns the cached file's path (in `snapshots/<commit>/`), downloading it first when needed.
   * @param name the file name in the repository
   * @returns the path, or `null` when the repository has no such file
   * @throws {Error} offline or with the hub out of reach, when the cache lacks the file
   */
  async localPath(name: string): Promise<string | null> {
    checkFileName(name, this.description);
    const key = `${this.folder}\n${this.revision}\n${name}`;
    // Loads running at the same time (a tokenizer and its model, say) share one look-up and one
    // download of a file: two writers of one partial file would corrupt it.
    let pending = IN_FLIGHT.get(key);
    if (pending === undefined) {
      pending = this.#resolve(name).finally(() => IN_FLIGHT.delete(key));
      IN_FLIGHT.set(key, pending);
    }
    return await pending;
  }

  async #resolve(name: string): Promise<string | null> {
    // A commit never moves: what the cache holds for it is final.
    if (COMMIT.test(this.revision)) {
      const known = await this.#cache.lookup(this.revision, name);
      if (known !== undefined) return known;
    }
    const offline = this.#options.offline ?? parseFlagWord(env("HF_HUB_OFFLINE") ?? "") === true;
    if (offline) {
      return await this.#fromCache(
        name,
        "downloads are off (offline): HF_HUB_OFFLINE or the offline option is set",
      );
    }
    const endpoint = (this.#options.endpoint ?? env("HF_ENDPOINT") ?? DEFAULT_ENDPOINT)
      .replace(/\/+$/, "");
    const info = await this.#head(this.#url(endpoint, this.revision, name));
    if (info.kind === "unreachable") return await this.#fromCache(name, info.why);
    if (info.kind === "absent") {
      if (info.commit !== null) {
        await this.#cache.markAbsent(info.commit, name);
        await this.#cache.writeRef(this.revision, info.commit);
      }
      return null;
    }
    const { commit, etag } = info;
    await this.#cache.writeRef(this.revision, commit);
    const known = await this.#cache.lookup(commit, name);
    if (typeof known === "string") return known;
    const blob = this.#cache.blobPath(etag);
    if (!await pathExists(blob)) {
      const show = this.#options.progress ?? stderrIsTerminal();
      const found = await downloadFile(this.#url(endpoint, commit, name), blob, {
        fetch: this.#options.fetch ?? fetch,
        token: this.#options.token ?? env("HF_TOKEN"),
        progress: show ? stderrProgress(`${this.id}/${name}`) : SILENT_PROGRESS,
      });
      if (!found) return null;
    }
    return await this.#cache.link(etag, commit, name);
  }

  /** The cached file for this revision, or an error saying why nothing could be asked. */
  async #fromCache(name: string, why: string): Promise<string | null> {
    const commit = await this.#cache.commitOf(this.revision);
    const known = commit === null ? undefined : await this.#cache.lookup(commit, name);
    if (known !== undefined) return known;
    throw new Error(
      `Cannot read ${name} of ${this.description}: it is not in the cache (${this.folder}) and ` +
        why,
    );
  }

  #url(endpoint: string, revision: string, name: string): string {
    return `${endpoint}/${this.id}/resolve/${encodeURIComponent(revision)}/${
      name.split("/").map(encodeURIComponent).join("/")
    }`;
  }

  /**
   * Asks the hub for a file's commit and etag by a HEAD request, as `huggingface_hub` does: a
   * redirect to another host (a large file's storage) is not followed, since the hub's own
   * answer carries both; a redirect on the same host without them (a renamed repository) is.
   */
  async #head(url: string): Promise<FileInfo> {
    const headers = new Headers({ "Accept-Encoding": "identity" });
    const token = this.#options.token ?? env("HF_TOKEN");
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const seconds = Number(env("HF_HUB_ETAG_TIMEOUT") ?? 10);
    const timeout = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
    let current = url;
    for (let hop = 0; hop <= 10; hop++) {
      let response: Response;
      try {
        response = await (this.#options.fetch ?? fetch)(current, {
          method: "HEAD",
          headers,
          redirect: "manual",
          signal: AbortSignal.timeout(timeout),
        });
      } catch (error) {
        return { kind: "unreachable", why: `the hub cannot be reached (${errorText(error)})` };
      }
      await response.body?.cancel();
      const commit = response.headers.get("x-repo-commit");
      const location = response.headers.get("location");
      const redirect = response.status >= 300 && response.status < 400;
      if (redirect && commit === null && location !== null) {
        const next = new URL(location, current);
        if (next.origin === new URL(current).origin) {
          current = next.href;
          continue;
        }
      }
      if (response.status === 404) return { kind: "absent", commit };
      if (!response.ok && !redirect) {
        const hint = response.status === 401 || response.status === 403
          ? " (a private or gated repository needs HF_TOKEN)"
          : "";
        return {
          kind: "unreachable",
          why: `the hub answered HTTP ${response.status} for ${url}${hint}`,
        };
      }
      const etag = validatorOf(response.headers);
      if (commit === null || etag === null) {
        throw new Error(
          `Cannot download from ${url}: the server sent no ${
            commit === null ? "X-Repo-Commit" : "ETag"
          } header, so it is not a Hugging Face hub (set HF_ENDPOINT or the endpoint option to ` +
            "one, or load the folder by URL)",
        );
      }
      return { kind: "found", commit, etag };
    }
    throw new Error(`Cannot download from ${url}: more than 10 redirects`);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Look-ups and downloads in progress in this process, by repository, revision and file. */
const IN_FLIGHT = new Map<string, Promise<string | null>>();
