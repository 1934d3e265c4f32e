/**
 * `pathExists`: whether something is at a path, telling "not there" apart from other failures;
 * `isFile`: whether a readable file is there.
 * @module
 */

/**
 * Whether a file or folder exists at `path` (needs `--allow-read`).
 * @param path the path to look at
 * @returns true when `Deno.stat` finds it, false when it reports NotFound
 * @throws whatever else `Deno.stat` throws (a permission error, for one)
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Whether `path` is a file that can be looked at (needs `--allow-read`).
 * @param path the path to look at
 * @returns true for a file; false for a folder, nothing, or a path that cannot be looked at
 */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
