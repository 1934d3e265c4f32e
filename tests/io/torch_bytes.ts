/**
 * Test helpers that write torch-style zip checkpoints byte by byte, so hostile and unusual inputs
 * can be made without Python.
 * @module
 */
import type { StateDict } from "../../io/state_dict.ts";
import { crc32 } from "../../io/zip_reader.ts";

/** Writes a zip archive of stored entries; `method` lets a test claim compression. */
export function makeZip(
  entries: [string, Uint8Array][],
  options: { method?: number } = {},
): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = encoder.encode(name);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    const crc = crc32(data);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, options.method ?? 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    const entry = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, options.method ?? 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    entry.set(nameBytes, 46);
    parts.push(local, data);
    central.push(entry);
    offset += local.length + data.length;
  }
  const centralSize = central.reduce((a, b) => a + b.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  return concat([...parts, ...central, end]);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** A tiny pickle assembler (protocol 2 opcodes). */
export class PickleBuilder {
  #bytes: number[] = [0x80, 2];
  /** Write legacy-format persistent ids (six fields). */
  legacy = false;

  /** Raw bytes. */
  raw(...bytes: number[]): this {
    this.#bytes.push(...bytes);
    return this;
  }
  /** MARK */
  mark(): this {
    return this.raw(0x28);
  }
  /** BINUNICODE */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b);
  }
  /** BININT (small non-negative) */
  int(n: number): this {
    return this.raw(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  }
  /** GLOBAL module name */
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  /** TUPLE (from the last MARK) */
  tuple(): this {
    return this.raw(0x74);
  }
  /** EMPTY_DICT */
  dict(): this {
    return this.raw(0x7d);
  }
  /** REDUCE */
  reduce(): this {
    return this.raw(0x52);
  }
  /** BINPERSID */
  persid(): this {
    return this.raw(0x51);
  }
  /** SETITEMS (from the last MARK) */
  setitems(): this {
    return this.raw(0x75);
  }
  /** NEWFALSE */
  false(): this {
    return this.raw(0x89);
  }
  /** STOP, returning the bytes. */
  stop(): Uint8Array {
    return new Uint8Array([...this.#bytes, 0x2e]);
  }

  /** Pushes a tensor rebuilt by `_rebuild_tensor_v2` over storage `key`. */
  tensor(
    key: string,
    storageType: string,
    numel: number,
    offset: number,
    shape: number[],
    stride: number[],
  ): this {
    this.global("torch._utils", "_rebuild_tensor_v2").mark();
    this.mark().str("storage").global("torch", storageType).str(key).str("cpu").int(numel);
    if (this.legacy) this.raw(0x4e); // legacy ids carry view metadata (None)
    this.tuple().persid();
    this.int(offset);
    this.mark();
    for (const d of shape) this.int(d);
    this.tuple().mark();
    for (const s of stride) this.int(s);
    this.tuple().false();
    this.global("collections", "OrderedDict").raw(0x29).reduce();
    return this.tuple().reduce();
  }
}

/** A float32 array's bytes. */
export function f32(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Wraps a pickle and storages into a torch zip checkpoint. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>): Uint8Array {
  return makeZip([
    ["archive/data.pkl", pickle],
    ["archive/byteorder", new TextEncoder().encode("little")],
    ...Object.entries(storages).map(([k, v]): [string, Uint8Array] => [`archive/data/${k}`, v]),
    ["archive/version", new TextEncoder().encode("3\n")],
  ]);
}

/** Writes an original-DPR-style checkpoint: a CheckpointState dict (or namedtuple). */
export function originalCheckpoint(modelDict: StateDict, namedTuple: boolean): Uint8Array {
  const p = new PickleBuilder();
  const storages: Record<string, Uint8Array> = {};
  const writeModelDict = (): void => {
    p.dict().mark();
    let key = 0;
    for (const [name, tensor] of modelDict) {
      const stride = tensor.shape.map((_, i) =>
        tensor.shape.slice(i + 1).reduce((a, b) => a * b, 1)
      );
      p.str(name).tensor(String(key), "FloatStorage", tensor.data.length, 0, tensor.shape, stride);
      storages[String(key++)] = new Uint8Array(tensor.data.buffer.slice(0));
    }
    p.setitems();
  };
  if (namedTuple) {
    p.global("dpr.utils.model_utils", "CheckpointState").mark();
    writeModelDict();
    p.dict().dict().int(0).int(3).dict().tuple().raw(0x81);
  } else {
    p.dict().mark().str("model_dict");
    writeModelDict();
    p.str("optimizer_dict").dict().str("offset").int(0).str("epoch").int(3);
    p.str("encoder_params").dict().mark().str("pretrained_model_cfg").str("bert-base-uncased")
      .setitems().setitems();
  }
  return torchZip(p.stop(), storages);
}

/** A legacy (PyTorch < 1.6) torch.save file: five pickles, then each storage's count and bytes. */
export function legacyTorchFile(
  main: Uint8Array,
  storages: [string, number, Uint8Array][],
): Uint8Array {
  const magic = new PickleBuilder()
    .raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop();
  const protocol = new PickleBuilder().raw(0x4d, 0xe9, 0x03).stop();
  const sysInfo = new PickleBuilder().dict().mark().str("little_endian").raw(0x88).setitems()
    .stop();
  const keys = new PickleBuilder().raw(0x5d).mark();
  for (const [key] of storages) keys.str(key);
  const parts = [magic, protocol, sysInfo, main, keys.raw(0x65).stop()];
  for (const [, numel, bytes] of storages) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(numel), true);
    parts.push(count, bytes);
  }
  return concat(parts);
}
