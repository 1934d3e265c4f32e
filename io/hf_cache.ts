/**
 * The Hugging Face hub cache on disk, laid out as Python's `huggingface_hub` lays it, so that files
 * downloaded by Python tools are read here and files downloaded here are read by them:
 *
 * ```text
 * <cache>/models--<org>--<name>/
 *   blobs/<etag>               a file's bytes, named by the hub's etag (the sha256 of a large
 *                              file, the git blob id of a small one)
 *   snapshots/<commit>/<file>  a relative symbolic link to ../../blobs/<etag>
 *   refs/<revision>            the commit a branch or tag pointed at when last asked
 *   .no_exist/<commit>/<file>  an empty file: the repository has no such file at that commit
 * ```
 *
 * `<cache>` is `DPR_CACHE`, else `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 * @module
 */
import { readEnv } from "../backend/env.ts";
import { writeFileAtomic } from "./atomic_write.ts";
import { pathExists } from "./path_exists.ts";

/**
 * Reads an environment variable, or `undefined` when unset, empty or not permitted.
 * @param name the variable
 * @returns its value
 */
export function env(name: string): string | undefined {
  return readEnv(name);
}

/**
 * The hub cache folder (the one holding `models--org--name`): `DPR_CACHE`, else `HF_HUB_CACHE`,
 * else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
 * (the home folder from `HOME`, or `USERPROFILE` on Windows), as `huggingface_hub` finds it.
 * @returns the folder's path
 * @throws {Error} when none of these variables is set (or readable)
 */
export function defaultCacheDir(): string {
  const explicit = env("DPR_CACHE") ?? env("HF_HUB_CACHE");
  if (explicit !== undefined) return explicit;
  const hfHome = env("HF_HOME");
  if (hfHome !== undefined) return `${hfHome}/hub`;
  const home = env("HOME") ?? env("USERPROFILE");
  const base = env("XDG_CACHE_HOME") ?? (home === undefined ? undefined : `${home}/.cache`);
  if (base === undefined) {
    throw new Error(
      "Cannot find the Hugging Face cache folder: set HF_HOME, HF_HUB_CACHE or DPR_CACHE (or " +
        "pass cacheDir); none of them, XDG_CACHE_HOME, HOME or USERPROFILE is set or readable",
    );
  }
  return `${base}/huggingface/hub`;
}

/** A full commit id: a revision that never moves. */
export const COMMIT: RegExp = /^[0-9a-f]{40}$/;

/** Etags name blob files: they must be plain names. */
const SAFE_ETAG = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** One model repository's folder in the hub cache. */
export class HubCacheRepo {
  /** `<cache>/models--<org>--<name>`. */
  readonly folder: string;

  /**
   * Points at a repository's cache folder; nothing is read or written yet.
   * @param cacheDir the hub cache folder
   * @param id the repository id, `org/name` or `name`
   */
  constructor(cacheDir: string, id: string) {
    this.folder = `${cacheDir.replace(/\/+$/, "")}/models--${id.split("/").join("--")}`;
  }

  /**
   * The path of the blob with this etag.
   * @param etag the hub's etag (unquoted)
   * @returns `<folder>/blobs/<etag>`
   * @throws {RangeError} when the etag is not a plain file name
   */
  blobPath(etag: string): string {
    if (!SAFE_ETAG.test(etag)) {
      throw new RangeError(
        `Cannot cache a hub file under etag ${JSON.stringify(etag)}: an etag must be a plain ` +
          "file name (letters, digits, '.', '_', '-')",
      );
    }
    return `${this.folder}/blobs/${etag}`;
  }

  /**
   * The commit a revision names: itself when it is a commit id, else the one saved in `refs/`.
   * @param revision a branch, tag or commit
   * @returns the commit, or `null` when the cache has never seen the revision
   */
  async commitOf(revision: string): Promise<string | null> {
    if (COMMIT.test(revision)) return revision;
    try {
      const text = (await Deno.readTextFile(`${this.folder}/refs/${revision}`)).trim();
      return text === "" ? null : text;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /**
   * Saves which commit a branch or tag points at (nothing for a commit id, or when unchanged).
   * @param revision the branch or tag
   * @param commit the commit the hub named for it
   */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit || await this.commitOf(revision) === commit) return;
    await writeAtomic(`${this.folder}/refs/${revision}`, commit);
  }

  /**
   * What the cache knows of a file at a commit.
   * @param commit the commit
   * @param name the file's path in the repository
   * @returns its path, `null` when it is known to be absent, `undefined` when unknown
   */
  async lookup(commit: string, name: string): Promise<string | null | undefined> {
    const pointer = `${this.folder}/snapshots/${commit}/${name}`;
    if (await pathExists(pointer)) return pointer;
    if (await pathExists(`${this.folder}/.no_exist/${commit}/${name}`)) return null;
    return undefined;
  }

  /**
   * Remembers that the repository has no such file at this commit.
   * @param commit the commit
   * @param name the file's path in the repository
   */
  async markAbsent(commit: string, name: string): Promise<void> {
    await writeAtomic(`${this.folder}/.no_exist/${commit}/${name}`, "");
  }

  /**
   * Makes `snapshots/<commit>/<name>` point at the blob: a relative symbolic link, or a copy
   * where links cannot be made (Windows without the privilege).
   * @param etag the blob's etag
   * @param commit the commit
   * @param name the file's path in the repository
   * @returns the snapshot path
   */
  async link(etag: string, commit: string, name: string): Promise<string> {
    const blob = this.blobPath(etag);
    const pointer = `${this.folder}/snapshots/${commit}/${name}`;
    await Deno.mkdir(parentOf(pointer), { recursive: true });
    // From snapshots/<commit>/<dirs...>/ back up to the repository folder.
    const target = `${"../".repeat(2 + name.split("/").length - 1)}blobs/${etag}`;
    const temporary = `${pointer}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.symlink(target, temporary);
    } catch {
      await Deno.copyFile(blob, temporary);
    }
    try {
      await Deno.rename(temporary, pointer);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
    return pointer;
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Writes a small file atomically, folders included. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.mkdir(parentOf(path), { recursive: true });
  await writeFileAtomic(path, text);
}
