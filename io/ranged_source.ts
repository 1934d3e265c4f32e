/**
 * A {@linkcode TensorSource} over tensors that each lie in one run of bytes of a
 * {@linkcode ByteReader}: a safetensors file or shard, a `pytorch_model.bin`'s storages, tfjs
 * weight shards. Only the tensor asked for is read (or a block of its rows, into one reused
 * buffer), so a checkpoint is never held whole, wherever its bytes live (disk, an HTTP server
 * that answers range requests, memory).
 * @module
 */
import { type ByteReader, LITTLE_ENDIAN_HOST } from "./byte_reader.ts";
import { checkFiniteWeights, type NonFiniteOption } from "./finite_weights.ts";
import { decodeFloat16Into } from "./float16.ts";
import type { LayoutBinding } from "./layers_layout.ts";
import { decodeLittleEndian } from "./safetensors.ts";
import type { TensorSource } from "./tensor_source.ts";
import { checkCrc32, crc32 } from "./zip_reader.ts";

/** One tensor stored as a run of bytes of a reader, row-major. */
export interface RangedTensor {
  /** The tensor's name in the checkpoint. */
  name: string;
  /** Dimensions, outermost first. */
  shape: number[];
  /** The stored element type, as safetensors names it ("F32", "F16", "I8", ...). */
  dtype: string;
  /** Where its bytes are. */
  reader: ByteReader;
  /** Its first byte in the reader. */
  begin: number;
  /** How many bytes it spans. */
  byteLength: number;
  /**
   * Decodes the stored bytes where the dtype alone does not say how (tfjs's affine uint8, a
   * strided view of a larger storage). The tensor's stored dtype is then not reported and its
   * raw bytes are not for reading.
   */
  decode?: (bytes: Uint8Array) => Float32Array;
  /** Its rows cannot be read apart (the run holds more than the tensor): read it whole. */
  wholeOnly?: boolean;
  /** The CRC-32 its bytes must have (a zip entry that holds exactly this tensor). */
  crc32?: number;
}

/** Options of {@linkcode rangedTensorSource}. */
export interface RangedSourceOptions extends NonFiniteOption {
  /** The checkpoint's string metadata. */
  metadata?: Readonly<Record<string, string>>;
  /** Releases what the tensors' readers hold (called once by `close`). */
  close?: () => void;
  /** A layers model's bindings, when the tensors are its weights (see `TensorSource`). */
  layersBindings?: readonly LayoutBinding[];
}

/**
 * Serves tensors stored as byte ranges.
 * @param description names the checkpoint in error messages
 * @param tensors the tensors, in the order to list them
 * @param options metadata, `allowNonFinite`, and what `close` releases
 * @returns the source; close it when done
 */
export function rangedTensorSource(
  description: string,
  tensors: readonly RangedTensor[],
  options: RangedSourceOptions = {},
): TensorSource {
  const where = (tensor: RangedTensor): string => `Cannot read ${tensor.reader.description}`;
  const byName = new Map(tensors.map((t) => [t.name, t] as const));
  let scratch = new Uint8Array(0); // readRows' buffer, grown to the largest block read
  let decoded = new Float32Array(0); // readRows' float16 blocks as float32, reused the same way
  /** Running CRC-32 of a tensor read a block of rows at a time from its start. */
  const running = new Map<string, { next: number; crc: number }>();
  const lookup = (name: string): RangedTensor => {
    const tensor = byName.get(name);
    if (tensor === undefined) throw new RangeError(`Cannot read ${name}: ${description} lacks it`);
    return tensor;
  };
  const checkCrc = (tensor: RangedTensor, actual: number): void => {
    checkCrc32(tensor.crc32!, actual, `${where(tensor)}: tensor "${tensor.name}"`);
  };
  const decode = (tensor: RangedTensor, bytes: Uint8Array): Float32Array => {
    const data = tensor.decode?.(bytes) ?? decodeLittleEndian(tensor.dtype, bytes, tensor.name);
    checkFiniteWeights(data, tensor.name, where(tensor), options);
    return data;
  };
  const readRaw = async (name: string): Promise<Uint8Array> => {
    const tensor = lookup(name);
    const bytes = await tensor.reader.read(tensor.begin, tensor.byteLength);
    if (tensor.crc32 !== undefined) checkCrc(tensor, crc32(bytes));
    return bytes;
  };
  const read = async (name: string): Promise<Float32Array> => {
    const bytes = await readRaw(name);
    return decode(lookup(name), bytes);
  };
  return {
    description,
    shapes: new Map(tensors.map((t) => [t.name, t.shape] as const)),
    dtypes: new Map(tensors.filter((t) => !t.decode).map((t) => [t.name, t.dtype] as const)),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    ...(options.layersBindings === undefined ? {} : { layersBindings: options.layersBindings }),
    readRaw,
    async readRawInto(name: string, target: Uint8Array): Promise<void> {
      const tensor = lookup(name);
      if (target.length !== tensor.byteLength) {
        throw new RangeError(
          `Cannot read ${name} into ${target.length} bytes: it holds ${tensor.byteLength}`,
        );
      }
      if (tensor.reader.readInto !== undefined) await tensor.reader.readInto(tensor.begin, target);
      else target.set(await tensor.reader.read(tensor.begin, tensor.byteLength));
      if (tensor.crc32 !== undefined) checkCrc(tensor, crc32(target));
    },
    read,
    async readRows(name: string, start: number, end: number): Promise<Float32Array> {
      const tensor = lookup(name);
      const rows = tensor.shape[0] ?? 1;
      if (!(Number.isInteger(start) && start >= 0 && start <= end && end <= rows)) {
        throw new RangeError(`Cannot read rows ${start}..${end} of ${name}: it has ${rows}`);
      }
      if (tensor.wholeOnly) {
        const width = rows === 0 ? 0 : tensor.shape.reduce((a, b) => a * b, 1) / rows;
        return (await read(name)).subarray(start * width, end * width);
      }
      const rowBytes = rows === 0 ? 0 : tensor.byteLength / rows;
      const length = (end - start) * rowBytes;
      if (scratch.length < length) scratch = new Uint8Array(length);
      const bytes = scratch.subarray(0, length);
      const offset = tensor.begin + start * rowBytes;
      if (tensor.reader.readInto !== undefined) await tensor.reader.readInto(offset, bytes);
      else bytes.set(await tensor.reader.read(offset, length));
      if (tensor.crc32 !== undefined) {
        // Blocks read in order from row 0 are checked as a whole once the last one is in.
        const state = start === 0 ? { next: 0, crc: 0 } : running.get(name);
        if (state !== undefined && state.next === start) {
          state.crc = crc32(bytes, state.crc);
          state.next = end;
          running.set(name, state);
          if (end === rows) {
            running.delete(name);
            checkCrc(tensor, state.crc);
          }
        }
      }
      // float32 on a little-endian host: a view of the reused buffer, no copy and no garbage;
      // float16: decoded into a second reused buffer (a fresh array per block would leave the
      // collector a whole table's worth of float32 garbage while a large table streams in)
      const plain = tensor.decode === undefined && LITTLE_ENDIAN_HOST;
      let values: Float32Array;
      if (plain && tensor.dtype === "F32") values = new Float32Array(bytes.buffer, 0, length / 4);
      else if (plain && tensor.dtype === "F16") {
        if (decoded.length < length / 2) decoded = new Float32Array(length / 2);
        values = decodeFloat16Into(bytes, decoded);
      } else values = tensor.decode?.(bytes) ?? decodeLittleEndian(tensor.dtype, bytes, name);
      const rowElements = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
      checkFiniteWeights(values, name, where(tensor), options, start * rowElements);
      return values;
    },
    close(): void {
      options.close?.();
    },
  };
}
