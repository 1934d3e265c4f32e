/**
 * Random access to the bytes of a file, in memory or on disk, so that checkpoint readers can pull
 * one tensor at a time instead of holding a whole file.
 * @module
 */

/** Whether this host stores numbers little-endian (then typed arrays can view file bytes). */
export const LITTLE_ENDIAN_HOST: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads byte ranges of one file. */
export interface ByteReader {
  /** Names the file in error messages. */
  readonly description: string;
  /** The file's size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes starting at `offset`; throws RangeError past the end.
   * The result may share memory with the reader's own buffer: do not modify it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Fills `bytes` from `offset` (a buffer the caller reuses, so that reading a large tensor a
   * block at a time leaves no garbage); throws RangeError past the end. Optional: callers fall
   * back to {@linkcode ByteReader.read}.
   */
  readInto?(offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * {@linkcode ByteReader.readInto} without awaiting: for many small reads of a local file, where
   * each asynchronous read would cost more than the read itself (a search's scattered rows).
   * Optional: only readers of local files have it.
   */
  readIntoSync?(offset: number, bytes: Uint8Array): void;
  /**
   * Drops what the reader holds in memory (a whole file fetched from a server without range
   * requests); a later read fetches it again. Optional.
   */
  release?(): void;
  /** Releases the underlying file, if any. */
  close(): void;
}

/**
 * A reader over bytes already in memory.
 * @param bytes the file's bytes
 * @param description names the file in error messages
 * @returns a reader that returns views of `bytes`
 */
export function memoryReader(bytes: Uint8Array, description = "in-memory file"): ByteReader {
  return {
    description,
    size: bytes.length,
    read(offset: number, length: number): Promise<Uint8Array> {
      checkRange(description, bytes.length, offset, length);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
    readInto(offset: number, target: Uint8Array): Promise<void> {
      checkRange(description, bytes.length, offset, target.length);
      target.set(bytes.subarray(offset, offset + target.length));
      return Promise.resolve();
    },
    close(): void {},
  };
}

/**
 * A reader whose reads all go through `fill` (which fills a buffer from an offset and throws
 * RangeError past the end): `read` fills a fresh buffer.
 * @param description names the file in error messages
 * @param size the file's size in bytes
 * @param fill fills `target` with the bytes from `offset`
 * @param close releases what the reader holds
 * @returns the reader
 */
export function fillingReader(
  description: string,
  size: number,
  fill: (offset: number, target: Uint8Array) => Promise<void>,
  close: () => void = () => {},
): ByteReader {
  return {
    description,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const bytes = new Uint8Array(length);
      await fill(offset, bytes);
      return bytes;
    },
    readInto: fill,
    close,
  };
}

/** What {@linkcode readUpTo} read. */
export interface PartialRead {
  /** A buffer of the requested length; only its first `filled` bytes were read. */
  bytes: Uint8Array;
  /** How many bytes were read: the requested length, or fewer when the file ended first. */
  filled: number;
}

/**
 * Reads `length` bytes at `offset` of an open file, looping over short reads until they are all
 * in or the file ends; callers decide what a short result means.
 * @param file an open file
 * @param offset where to start
 * @param length how many bytes
 * @returns the buffer and how much of it was filled
 */
export async function readUpTo(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<PartialRead> {
  await file.seek(offset, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return { bytes, filled };
}

/**
 * Opens a file on disk for random access (needs `--allow-read`).
 * @param path the file's path
 * @param description names the file in error messages (default: the path)
 * @returns a reader; call `close()` when done
 */
export async function openFileReader(path: string, description = path): Promise<ByteReader> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const reader = fillingReader(description, size, fill, () => file.close());
  reader.readIntoSync = fillSync;
  return reader;
  async function fill(offset: number, target: Uint8Array): Promise<void> {
    checkRange(description, size, offset, target.length);
    await file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < target.length) {
      const n = await file.read(target.subarray(filled));
      if (n === null) throw truncated(offset, filled, target.length);
      filled += n;
    }
  }
  function fillSync(offset: number, target: Uint8Array): void {
    checkRange(description, size, offset, target.length);
    file.seekSync(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < target.length) {
      const n = file.readSync(target.subarray(filled));
      if (n === null) throw truncated(offset, filled, target.length);
      filled += n;
    }
  }
  function truncated(offset: number, filled: number, length: number): RangeError {
    return new RangeError(
      `Cannot read ${description}: the file ended at ${offset + filled} bytes, before ${
        offset + length
      }; it is truncated`,
    );
  }
}

function checkRange(description: string, size: number, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(
      `Cannot read ${description}: bytes ${offset}..${offset + length} lie outside the file ` +
        `(${size} bytes); it is truncated or corrupt`,
    );
  }
}
