/**
 * What a `torch.save` pickle refers to: storages and tensor views (`TorchStorageRef`,
 * `TorchTensorRef`), the few globals a state dict's pickle may name, the persistent ids that
 * point at storages, and decoding a tensor view from its storage's bytes. Shared by the zip
 * format (`pytorch_pickle.ts`) and the legacy one (`pytorch_legacy.ts`).
 * @module
 */
import { describeValue } from "./describe_value.ts";
import type { PickleGlobal } from "./pickle.ts";
import { PickleRecord } from "./pickle.ts";
import type { ByteReader } from "./byte_reader.ts";
import { decodeLittleEndian } from "./safetensors.ts";
import { checkCrc32, crc32 } from "./zip_reader.ts";
import type { RawTensor } from "./state_dict.ts";

/** The fields of facebookresearch/DPR's `CheckpointState` namedtuple, in order. */
const CHECKPOINT_STATE_FIELDS = [
  "model_dict",
  "optimizer_dict",
  "scheduler_dict",
  "offset",
  "epoch",
  "encoder_params",
];

/** Storage classes and the safetensors dtype and element size of their data. */
const STORAGE_TYPES: Record<string, { dtype: string; bytes: number }> = {
  FloatStorage: { dtype: "F32", bytes: 4 },
  HalfStorage: { dtype: "F16", bytes: 2 },
  BFloat16Storage: { dtype: "BF16", bytes: 2 },
  DoubleStorage: { dtype: "F64", bytes: 8 },
  LongStorage: { dtype: "I64", bytes: 8 },
  IntStorage: { dtype: "I32", bytes: 4 },
  ShortStorage: { dtype: "I16", bytes: 2 },
  CharStorage: { dtype: "I8", bytes: 1 },
  ByteStorage: { dtype: "U8", bytes: 1 },
  BoolStorage: { dtype: "BOOL", bytes: 1 },
};

/** A storage named by a checkpoint's persistent id; its bytes stay in the archive until needed. */
export class TorchStorageRef {
  /** The storage's key: its data lives at `<root>/data/<key>`. */
  readonly key: string;
  /** The safetensors dtype of its elements. */
  readonly dtype: string;
  /** Bytes per element. */
  readonly itemBytes: number;
  /** Number of elements the pickle declares. */
  readonly numel: number;
  /** For a legacy storage view: where the view starts in the root storage, in elements. */
  readonly elementOffset: number;

  /**
   * Describes a storage; its bytes are read only when a tensor needs them.
   * @param key the storage key
   * @param dtype the element dtype
   * @param itemBytes bytes per element
   * @param numel declared element count
   * @param elementOffset start of a storage view, in elements (default 0)
   */
  constructor(key: string, dtype: string, itemBytes: number, numel: number, elementOffset = 0) {
    this.key = key;
    this.dtype = dtype;
    this.itemBytes = itemBytes;
    this.numel = numel;
    this.elementOffset = elementOffset;
  }
}

/** A tensor view of a storage, as `_rebuild_tensor_v2` describes it; not yet decoded. */
export class TorchTensorRef {
  /** The storage holding the data. */
  readonly storage: TorchStorageRef;
  /** Offset in elements into the storage. */
  readonly offset: number;
  /** Dimensions. */
  readonly shape: number[];
  /** Strides in elements. */
  readonly stride: number[];

  /**
   * Describes a strided view of a storage.
   * @param storage the storage
   * @param offset element offset
   * @param shape dimensions
   * @param stride strides in elements
   */
  constructor(storage: TorchStorageRef, offset: number, shape: number[], stride: number[]) {
    this.storage = storage;
    this.offset = offset;
    this.shape = shape;
    this.stride = stride;
  }
}

/** Where a storage's bytes lie in a checkpoint file. */
export interface StorageLocation {
  /** The storage's first byte in the file. */
  start: number;
  /** The storage's size in bytes. */
  bytes: number;
  /** The CRC-32 the whole storage must have (zip entries), where recorded. */
  crc32?: number;
}

/** An opened torch checkpoint: its unpickled object tree and where each storage lies. */
export interface TorchCheckpoint {
  /** The unpickled object: Maps for dicts, arrays for lists/tuples, TorchTensorRef for tensors. */
  root: unknown;
  /** The file. */
  reader: ByteReader;
  /** The start of error messages about the file. */
  where: string;
  /**
   * Finds a tensor's storage in the file and checks it is whole there (in the archive, inside
   * the file, of its declared size), reading nothing but small headers.
   * @throws RangeError naming the tensor and the storage otherwise
   */
  locate(ref: TorchTensorRef, name: string): Promise<StorageLocation>;
}

function marker(qualifiedName: string): PickleGlobal {
  return {
    qualifiedName,
    call(): unknown {
      throw new TypeError(`${qualifiedName} may only be used as a type marker in a checkpoint`);
    },
  };
}

function asIntList(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isInteger(v))) {
    throw new TypeError(`${what} must be a tuple of integers: received ${describeValue(value)}`);
  }
  return value as number[];
}

function rebuildTensor(where: string, args: unknown[]): TorchTensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorageRef)) {
    throw new TypeError(`${where}: _rebuild_tensor needs a storage as first argument`);
  }
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) {
    throw new TypeError(`${where}: tensor storage offset must be a non-negative integer`);
  }
  const shape = asIntList(size, `${where}: tensor size`);
  const strides = asIntList(stride, `${where}: tensor stride`);
  if (shape.length !== strides.length || shape.some((d) => d < 0) || strides.some((s) => s < 0)) {
    throw new TypeError(
      `${where}: tensor size [${shape}] and stride [${strides}] must have the same length and ` +
        `be non-negative`,
    );
  }
  return new TorchTensorRef(storage, offset, shape, strides);
}

/**
 * The table of globals a state-dict checkpoint may reference. Everything else is refused.
 * @param where prefix for error messages
 * @returns a lookup from module and name to the data constructor
 */
export function allowedGlobals(
  where: string,
): (module: string, name: string) => PickleGlobal | undefined {
  const table = new Map<string, PickleGlobal>();
  const add = (qualifiedName: string, call: (args: unknown[]) => unknown): void => {
    table.set(qualifiedName, { qualifiedName, call });
  };
  add("collections.OrderedDict", (args) => {
    const map = new Map();
    const items = args[0];
    if (Array.isArray(items)) {
      for (const pair of items) if (Array.isArray(pair)) map.set(pair[0], pair[1]);
    }
    return map;
  });
  add("torch._utils._rebuild_tensor", (args) => rebuildTensor(where, args));
  add("torch._utils._rebuild_tensor_v2", (args) => rebuildTensor(where, args));
  add("torch._utils._rebuild_parameter", (args) => args[0]);
  add("torch._utils._rebuild_parameter_with_state", (args) => args[0]);
  add("torch._tensor._rebuild_from_type_v2", (args) => {
    const [fn, , fnArgs] = args;
    const rebuild = fn as PickleGlobal | undefined;
    if (
      !rebuild || !["torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor"].includes(
        rebuild.qualifiedName,
      ) || !Array.isArray(fnArgs)
    ) {
      throw new TypeError(`${where}: _rebuild_from_type_v2 may only wrap _rebuild_tensor_v2`);
    }
    return rebuild.call(fnArgs);
  });
  table.set("torch.Tensor", marker("torch.Tensor"));
  table.set("torch.nn.parameter.Parameter", marker("torch.nn.parameter.Parameter"));
  for (const name of Object.keys(STORAGE_TYPES)) {
    table.set(`torch.${name}`, marker(`torch.${name}`));
  }
  add("dpr.utils.model_utils.CheckpointState", (args) => {
    const fields: Record<string, unknown> = {};
    CHECKPOINT_STATE_FIELDS.forEach((field, i) => (fields[field] = args[i]));
    return new PickleRecord("dpr.utils.model_utils.CheckpointState", fields);
  });
  return (module, name) => table.get(`${module}.${name}`);
}

/** The persistent-id loader shared by both formats: `("storage", type, key, location, numel[, view])`. */
export function storageLoader(
  storages: Map<string, TorchStorageRef>,
  where: string,
): (pid: unknown) => unknown {
  return (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new TypeError(`${where}: unsupported persistent id ${describeValue(pid)}`);
    }
    const [, type, key, , numel, view] = pid;
    const typeName = (type as PickleGlobal | undefined)?.qualifiedName?.replace(/^torch\./, "");
    const info = typeName === undefined ? undefined : STORAGE_TYPES[typeName];
    if (info === undefined || typeof key !== "string" || typeof numel !== "number") {
      throw new TypeError(
        `${where}: unsupported storage ${describeValue(typeName)} in persistent id`,
      );
    }
    let storage = storages.get(key);
    if (storage === undefined) {
      storage = new TorchStorageRef(key, info.dtype, info.bytes, numel);
      storages.set(key, storage);
    } else if (storage.dtype !== info.dtype || storage.numel !== numel) {
      throw new TypeError(
        `${where}: storage ${key} is named as ${storage.numel} elements of ${storage.dtype} and ` +
          `as ${numel} elements of ${info.dtype}`,
      );
    }
    if (Array.isArray(view)) {
      // Legacy storage views: (view_key, element offset, view size) into the root storage.
      const [, offset, size] = view;
      if (typeof offset !== "number" || typeof size !== "number" || offset + size > numel) {
        throw new RangeError(
          `${where}: storage view ${describeValue(view)} lies outside storage ${key}`,
        );
      }
      return new TorchStorageRef(key, info.dtype, info.bytes, numel, offset);
    }
    return storage;
  };
}

/**
 * Refuses a storage whose bytes are not exactly its element count times its type's size: a
 * storage relabelled to another type (float32 bytes read as Half, say) or cut.
 * @param ref a tensor of the storage
 * @param tensorName the tensor's name
 * @param where the start of the message
 * @param storageBytes the bytes the archive holds for the storage
 */
export function checkStorageSize(
  ref: TorchTensorRef,
  tensorName: string,
  where: string,
  storageBytes: number,
): void {
  const { key, numel, itemBytes, dtype } = ref.storage;
  if (storageBytes !== numel * itemBytes) {
    throw new RangeError(
      `${where}: tensor "${tensorName}": storage ${key} holds ${storageBytes} bytes, but ` +
        `${numel} elements of ${dtype} (${itemBytes} bytes each) are ${numel * itemBytes}; ` +
        `its type or size does not match its data`,
    );
  }
}

/** The part of a storage a tensor view spans. */
export interface TensorWindow {
  /** Its first byte, counted from the storage's start. */
  begin: number;
  /** One past its last byte. */
  end: number;
  /** The tensor's element count. */
  count: number;
  /** Whether the window is exactly the tensor's values in row-major order. */
  contiguous: boolean;
}

/**
 * Checks a tensor view against its storage and says which bytes of the storage it spans.
 * @param ref the view
 * @param tensorName names it in errors
 * @param where the start of error messages
 * @param storageBytes the storage's size in bytes
 * @returns the window
 * @throws RangeError when the view reaches past its storage or is a broadcast view
 */
export function tensorWindow(
  ref: TorchTensorRef,
  tensorName: string,
  where: string,
  storageBytes: number,
): TensorWindow {
  const count = ref.shape.reduce((a, b) => a * b, 1);
  const extent = count === 0
    ? 0
    : 1 + ref.shape.reduce((sum, d, i) => sum + (d - 1) * ref.stride[i]!, 0);
  const itemBytes = ref.storage.itemBytes;
  const first = ref.storage.elementOffset + ref.offset;
  const needed = (first + extent) * itemBytes;
  if (needed > storageBytes || first + extent > ref.storage.numel) {
    throw new RangeError(
      `${where}: tensor "${tensorName}": offset ${ref.offset}, size [${ref.shape}] and stride ` +
        `[${ref.stride}] reach element ${first + extent} of a storage of ${ref.storage.numel} ` +
        `elements (${storageBytes} bytes)`,
    );
  }
  if (count > ref.storage.numel) {
    // Only broadcast or overlapping views (stride 0) hold more elements than their storage;
    // state dicts have none, and expanding one could allocate without bound.
    throw new RangeError(
      `${where}: tensor "${tensorName}" has ${count} elements but its storage only ` +
        `${ref.storage.numel}; broadcast views are not supported`,
    );
  }
  return {
    begin: first * itemBytes,
    end: needed,
    count,
    contiguous: extent === count && isRowMajor(ref.shape, ref.stride),
  };
}

/**
 * Decodes a tensor view from the bytes of its window (see {@linkcode tensorWindow}).
 * @param ref the view
 * @param tensorName names it in errors
 * @param window the bytes `begin..end` of its storage
 * @returns the values, row-major
 */
export function decodeWindow(
  ref: TorchTensorRef,
  tensorName: string,
  window: Uint8Array,
): RawTensor {
  const count = ref.shape.reduce((a, b) => a * b, 1);
  const values = decodeLittleEndian(ref.storage.dtype, window, tensorName);
  return { shape: [...ref.shape], data: gather(values, ref.shape, ref.stride, count) };
}

/**
 * Reads and decodes one tensor of a checkpoint: its storage is located and checked, and only
 * the bytes its view spans are read (the whole storage where a CRC-32 must be checked).
 * @param checkpoint the opened checkpoint
 * @param ref the tensor
 * @param tensorName names it in errors
 * @returns the tensor as float32
 */
export async function readTorchTensor(
  checkpoint: TorchCheckpoint,
  ref: TorchTensorRef,
  tensorName: string,
): Promise<RawTensor> {
  const location = await checkpoint.locate(ref, tensorName);
  const window = tensorWindow(ref, tensorName, checkpoint.where, location.bytes);
  if (location.crc32 === undefined) {
    const bytes = await checkpoint.reader.read(
      location.start + window.begin,
      window.end - window.begin,
    );
    return decodeWindow(ref, tensorName, bytes);
  }
  const storage = await checkpoint.reader.read(location.start, location.bytes);
  checkCrc32(location.crc32, crc32(storage), `${checkpoint.where}: tensor "${tensorName}"`);
  return decodeWindow(ref, tensorName, storage.subarray(window.begin, window.end));
}

/** Whether strides describe a row-major layout (dimensions of size 1 aside). */
function isRowMajor(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copies a strided view into a new row-major array (or returns it when already contiguous). */
function gather(
  values: Float32Array,
  shape: number[],
  stride: number[],
  count: number,
): Float32Array {
  if (isRowMajor(shape, stride)) return values.length === count ? values : values.slice(0, count);
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < count; k++) {
    let source = 0;
    for (let d = 0; d < shape.length; d++) source += index[d]! * stride[d]!;
    out[k] = values[source]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}
