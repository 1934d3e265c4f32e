/**
 * A small reader for the zip archives that `torch.save` writes: it finds entries through the
 * central directory (zip64 included), reads stored (uncompressed) entries and checks their CRC-32.
 * Compressed entries are refused, since torch never writes them.
 * @module
 */
import { type ByteReader, LITTLE_ENDIAN_HOST } from "./byte_reader.ts";

/** One file inside a zip archive. */
export interface ZipEntry {
  /** The entry's path inside the archive. */
  name: string;
  /** 0 for stored; anything else is compressed. */
  method: number;
  /** Size of the entry's data in the archive. */
  compressedSize: number;
  /** Size of the entry's contents. */
  size: number;
  /** CRC-32 of the contents. */
  crc32: number;
  /** Where the entry's local header starts. */
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/**
 * Tells whether bytes start like a zip archive.
 * @param first4 the first bytes of a file
 * @returns true for the local-file-header signature "PK\x03\x04"
 */
export function looksLikeZip(first4: Uint8Array): boolean {
  return first4.length >= 4 && first4[0] === 0x50 && first4[1] === 0x4b && first4[2] === 3 &&
    first4[3] === 4;
}

/**
 * Reads a zip archive's central directory.
 * @param reader the archive
 * @returns the entries by name
 */
export async function readZipDirectory(reader: ByteReader): Promise<Map<string, ZipEntry>> {
  const where = `Cannot read zip archive ${reader.description}`;
  // The end-of-central-directory record is 22 bytes plus a comment of up to 65535 bytes.
  const tailLength = Math.min(reader.size, 22 + 65535);
  if (tailLength < 22) throw new RangeError(`${where}: ${reader.size} bytes is too small`);
  const tail = await reader.read(reader.size - tailLength, tailLength);
  const tailView = view(tail);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tailView.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new RangeError(
      `${where}: no end-of-central-directory record; the file is truncated or not a zip archive`,
    );
  }
  let count = tailView.getUint16(eocd + 10, true);
  let directorySize = tailView.getUint32(eocd + 12, true);
  let directoryOffset = tailView.getUint32(eocd + 16, true);
  const eocdAbsolute = reader.size - tailLength + eocd;
  if (
    count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff
  ) {
    // Zip64: a locator just before the record points to the zip64 end-of-central-directory.
    if (eocdAbsolute < 20) throw new RangeError(`${where}: missing zip64 locator`);
    const locator = view(await reader.read(eocdAbsolute - 20, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE) {
      throw new RangeError(`${where}: missing zip64 locator`);
    }
    const zip64Offset = Number(locator.getBigUint64(8, true));
    const record = view(await reader.read(zip64Offset, 56));
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) {
      throw new RangeError(`${where}: bad zip64 end-of-central-directory record`);
    }
    count = Number(record.getBigUint64(32, true));
    directorySize = Number(record.getBigUint64(40, true));
    directoryOffset = Number(record.getBigUint64(48, true));
  }
  if (directoryOffset + directorySize > reader.size) {
    throw new RangeError(
      `${where}: the central directory (bytes ${directoryOffset}..${
        directoryOffset + directorySize
      }) lies past the end of the file (${reader.size} bytes); it is truncated`,
    );
  }
  const directory = await reader.read(directoryOffset, directorySize);
  const dv = view(directory);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directory.length || dv.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw new RangeError(`${where}: central directory entry ${i} is corrupt`);
    }
    const method = dv.getUint16(p + 10, true);
    const crc32 = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLength = dv.getUint16(p + 28, true);
    const extraLength = dv.getUint16(p + 30, true);
    const commentLength = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLength + extraLength + commentLength > directory.length) {
      throw new RangeError(`${where}: central directory entry ${i} runs past the directory`);
    }
    const name = new TextDecoder().decode(directory.subarray(p + 46, p + 46 + nameLength));
    // Zip64 extended information: 64-bit values for each field saturated at 0xffffffff.
    let q = p + 46 + nameLength;
    const extraEnd = q + extraLength;
    while (q + 4 <= extraEnd) {
      const id = dv.getUint16(q, true);
      const length = dv.getUint16(q + 2, true);
      if (id === 0x0001) {
        let r = q + 4;
        if (size === 0xffffffff) (size = Number(dv.getBigUint64(r, true))), (r += 8);
        if (compressedSize === 0xffffffff) {
          (compressedSize = Number(dv.getBigUint64(r, true))), (r += 8);
        }
        if (localHeaderOffset === 0xffffffff) {
          localHeaderOffset = Number(dv.getBigUint64(r, true));
        }
      }
      q += 4 + length;
    }
    if (entries.has(name)) {
      // Readers disagree on which of two same-named entries counts; refuse rather than choose.
      throw new RangeError(`${where}: the archive holds two entries named "${name}"`);
    }
    entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * Finds where an entry's data starts (after its local header).
 * @param reader the archive
 * @param entry an entry of its directory
 * @returns the absolute offset of the entry's first data byte
 */
export async function zipEntryDataOffset(reader: ByteReader, entry: ZipEntry): Promise<number> {
  const where = `Cannot read ${entry.name} in zip archive ${reader.description}`;
  if (entry.method !== 0) {
    throw new TypeError(
      `${where}: the entry is compressed (method ${entry.method}); only stored entries are ` +
        `supported, as torch.save writes them`,
    );
  }
  if (entry.localHeaderOffset + 30 > reader.size) {
    throw new RangeError(`${where}: the local header lies past the end of the file`);
  }
  const header = view(await reader.read(entry.localHeaderOffset, 30));
  if (header.getUint32(0, true) !== LOCAL_SIGNATURE) {
    throw new RangeError(`${where}: bad local header signature`);
  }
  const start = entry.localHeaderOffset + 30 + header.getUint16(26, true) +
    header.getUint16(28, true);
  if (start + entry.size > reader.size) {
    throw new RangeError(
      `${where}: its ${entry.size} bytes run past the end of the file (${reader.size} bytes); ` +
        `the archive is truncated`,
    );
  }
  return start;
}

/**
 * Reads a stored entry whole and checks its CRC-32.
 * @param reader the archive
 * @param entry an entry of its directory
 * @returns the entry's contents
 */
export async function readZipEntry(reader: ByteReader, entry: ZipEntry): Promise<Uint8Array> {
  const start = await zipEntryDataOffset(reader, entry);
  const bytes = await reader.read(start, entry.size);
  checkCrc32(
    entry.crc32,
    crc32(bytes),
    `Cannot read ${entry.name} in zip archive ${reader.description}`,
  );
  return bytes;
}

/**
 * Compares a computed CRC-32 with the one a zip directory records.
 * @param expected the recorded checksum
 * @param actual the checksum of the bytes read
 * @param where the start of the message, e.g. "Cannot read x in zip archive y"
 * @throws {RangeError} when they differ: the file is corrupt
 */
export function checkCrc32(expected: number, actual: number, where: string): void {
  if (actual !== expected) {
    throw new RangeError(
      `${where}: CRC-32 mismatch (expected ${hex(expected)}, computed ${hex(actual)}); the ` +
        `file is corrupt`,
    );
  }
}

let crcTables: Uint32Array[] | null = null;
/** Eight 256-entry tables for slicing-by-8 (eight bytes per step; about 6x a byte loop). */
function tables(): Uint32Array[] {
  if (crcTables === null) {
    const t = Array.from({ length: 8 }, () => new Uint32Array(256));
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[0]![n] = c >>> 0;
    }
    for (let n = 0; n < 256; n++) {
      for (let k = 1; k < 8; k++) {
        t[k]![n] = (t[0]![t[k - 1]![n]! & 0xff]! ^ (t[k - 1]![n]! >>> 8)) >>> 0;
      }
    }
    crcTables = t;
  }
  return crcTables;
}

/**
 * Computes the CRC-32 (IEEE) checksum that zip uses.
 * @param bytes the data
 * @param previous a running checksum to continue, default 0
 * @returns the checksum as an unsigned 32-bit number
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables() as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = (previous ^ 0xffffffff) >>> 0;
  let i = 0;
  const n = bytes.length;
  if (LITTLE_ENDIAN_HOST && n >= 16) {
    // Bring the position to a 4-byte boundary, then read aligned words.
    for (; i < n && (bytes.byteOffset + i) % 4 !== 0; i++) {
      c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    }
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (n - i) >>> 2);
    const pairs = words.length >>> 1;
    for (let w = 0; w < pairs; w++) {
      const lo = words[2 * w]! ^ c;
      const hi = words[2 * w + 1]!;
      c = t7[lo & 0xff]! ^ t6[(lo >>> 8) & 0xff]! ^ t5[(lo >>> 16) & 0xff]! ^ t4[lo >>> 24]! ^
        t3[hi & 0xff]! ^ t2[(hi >>> 8) & 0xff]! ^ t1[(hi >>> 16) & 0xff]! ^ t0[hi >>> 24]!;
    }
    i += pairs * 8;
  }
  for (; i + 8 <= n; i += 8) {
    const lo = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^
      c;
    c = t7[lo & 0xff]! ^ t6[(lo >>> 8) & 0xff]! ^ t5[(lo >>> 16) & 0xff]! ^ t4[lo >>> 24]! ^
      t3[bytes[i + 4]!]! ^ t2[bytes[i + 5]!]! ^ t1[bytes[i + 6]!]! ^ t0[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}
