/**
 * Atomic file writes: the contents go to a temporary file beside the target
 * (`<path>.tmp-<random>`), which is then renamed over it, so a reader sees the old file or the
 * new one, never half of one. A failed write removes its temporary file; one a crash leaves
 * behind keeps the `.tmp-` mark, by which folders that hold resumable work clear it.
 * @module
 */

/**
 * Writes `data` to `path` atomically (the folder must exist).
 * @param path the final path
 * @param data the contents: bytes, or text written as UTF-8
 * @throws whatever writing or renaming throws, after removing the temporary file
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
