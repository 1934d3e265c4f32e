/**
 * One {@linkcode ByteReader} over several files read as their concatenation: tfjs weight shards,
 * where a weight may begin in one shard and end in the next. Moving on to another part releases
 * the one read before (a shard fetched whole is not kept while the next is read).
 * @module
 */
import { type ByteReader, fillingReader } from "./byte_reader.ts";

/**
 * Reads `parts` as one run of bytes; closing it closes them all.
 * @param parts the files, in order
 * @param description names the whole in error messages
 * @returns the reader
 */
export function concatReader(parts: readonly ByteReader[], description: string): ByteReader {
  const starts: number[] = [];
  let size = 0;
  for (const part of parts) {
    starts.push(size);
    size += part.size;
  }
  let current = -1; // the part read last: the others hold nothing in memory
  const fill = async (offset: number, target: Uint8Array): Promise<void> => {
    if (offset < 0 || offset + target.length > size) {
      throw new RangeError(
        `Cannot read ${description}: bytes ${offset}..${offset + target.length} lie outside its ` +
          `${size} bytes`,
      );
    }
    let done = 0;
    for (let i = 0; i < parts.length && done < target.length; i++) {
      const part = parts[i]!, start = starts[i]!;
      const at = offset + done;
      if (at >= start + part.size || part.size === 0) continue;
      const n = Math.min(target.length - done, start + part.size - at);
      const piece = target.subarray(done, done + n);
      if (i !== current) {
        if (current >= 0) parts[current]!.release?.();
        current = i;
      }
      if (part.readInto !== undefined) await part.readInto(at - start, piece);
      else piece.set(await part.read(at - start, n));
      done += n;
    }
  };
  return fillingReader(description, size, fill, () => {
    for (const part of parts) part.close();
  });
}
