/**
 * Content fingerprints of a passage collection, so a resumed encoding job can tell whether the
 * passages it reads now are those its finished chunks were encoded from: a SHA-256 per chunk
 * (over each passage's id, title and text, in order) and one over the whole collection.
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { pathExists } from "../io/path_exists.ts";
import { type Passage, type PassageFormat, readPassages } from "./passages.ts";

/** One passage as hashed: unambiguous however its fields are delimited in the file. */
function passageLine(passage: Passage): string {
  return JSON.stringify([passage.id, passage.title, passage.text]) + "\n";
}

/** Running SHA-256 digests of a collection and of its current chunk. */
export class PassageDigest {
  #whole: Hash = createHash("sha256");
  #chunk: Hash = createHash("sha256");

  /**
   * Adds the next passage of the collection (and of the current chunk).
   * @param passage the passage, in file order
   */
  add(passage: Passage): void {
    const line = passageLine(passage);
    this.#whole.update(line);
    this.#chunk.update(line);
  }

  /**
   * Ends the current chunk.
   * @returns the chunk's digest (hex)
   */
  endChunk(): string {
    const digest = this.#chunk.digest("hex");
    this.#chunk = createHash("sha256");
    return digest;
  }

  /**
   * Ends the collection.
   * @returns the collection's digest (hex)
   */
  endCollection(): string {
    return this.#whole.digest("hex");
  }
}

/**
 * The digest of a whole passage file, read again (a finished job checks the file it is asked to
 * encode against the one it encoded).
 * @param path the passage file
 * @param format its format (default: from the file name)
 * @returns the collection's digest (hex)
 */
export async function passageFileDigest(path: string, format?: PassageFormat): Promise<string> {
  const digest = new PassageDigest();
  for await (const passage of readPassages(path, { format })) digest.add(passage);
  return digest.endCollection();
}

/** Where the digest of chunk `name` of a shard folder is kept, beside the chunk's folder. */
function digestPath(dir: string, name: string): string {
  return `${dir}/${name}.sha256`;
}

/**
 * Records the digest of a chunk's passages before the chunk is written (atomically: a crash leaves
 * the old digest or the new one, and a digest without its chunk only means the chunk is encoded
 * again).
 * @param dir the shard folder
 * @param name the chunk's folder name
 * @param digest the chunk's digest
 */
export async function writeChunkDigest(dir: string, name: string, digest: string): Promise<void> {
  await writeFileAtomic(digestPath(dir, name), digest + "\n");
}

/**
 * Refuses to resume over a finished chunk whose passages are not those it was encoded from.
 * @param dir the shard folder
 * @param name the chunk's folder name
 * @param digest the digest of the passages read now for that chunk
 * @throws {RangeError} naming the chunk, when its recorded digest differs or is missing
 */
export async function checkChunkDigest(dir: string, name: string, digest: string): Promise<void> {
  const path = digestPath(dir, name);
  const recorded = await pathExists(path) ? (await Deno.readTextFile(path)).trim() : undefined;
  if (recorded === digest) return;
  throw new RangeError(
    `Cannot resume the encoding job in ${dir}: ${name} was encoded from other passages than ` +
      `the file holds now (${
        recorded === undefined
          ? "no digest was recorded for it"
          : `sha256 ${recorded}, now ${digest}`
      }); the passage file changed since. Refused, nothing was overwritten: encode into another ` +
      `output folder, or remove ${dir} to start this shard again`,
  );
}
