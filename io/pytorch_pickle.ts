/**
 * Reader for `pytorch_model.bin` files written by `torch.save`: the zip format of PyTorch 1.6 and
 * later (`<root>/data.pkl`, a pickle whose tensors point through persistent ids at storages
 * stored as `<root>/data/<key>`) and the older "legacy" format (pickles in a row, then the raw
 * storages), which the original DPR checkpoints and early hub uploads use. Every pickle goes
 * through the restricted unpickler of `pickle.ts` with a table of the few globals state dicts
 * use; anything else is refused by name. Tensors are decoded one at a time from their storages.
 * The ancient tar format is refused with a clear error.
 * @module
 */
import type { ByteReader } from "./byte_reader.ts";
import { memoryReader } from "./byte_reader.ts";
import { PickleRecord, PickleTruncatedError, unpickle, unpickleAt } from "./pickle.ts";
import type { PickleGlobal } from "./pickle.ts";
import { decodeLittleEndian } from "./safetensors.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";
import { looksLikeZip, readZipDirectory, readZipEntry } from "./zip_reader.ts";
import type { ZipEntry } from "./zip_reader.ts";

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

/** The fields of facebookresearch/DPR's `CheckpointState` namedtuple, in order. */
const CHECKPOINT_STATE_FIELDS = [
  "model_dict",
  "optimizer_dict",
  "scheduler_dict",
  "offset",
  "epoch",
  "encoder_params",
];

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

/** An opened torch zip checkpoint: its unpickled object tree and a way to decode tensors. */
export interface TorchCheckpoint {
  /** The unpickled object: Maps for dicts, arrays for lists/tuples, TorchTensorRef for tensors. */
  root: unknown;
  /** Decodes one tensor to float32, reading only its storage. */
  materialize(ref: TorchTensorRef, name: string): Promise<RawTensor>;
}

/** Options for {@linkcode readPytorchCheckpoint}. */
export interface ReadPytorchOptions {
  /** Names the file in error messages. */
  description?: string;
  /** Decodes only tensors whose names pass this test. */
  filter?: (name: string) => boolean;
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
    throw new TypeError(`${what} must be a tuple of integers: received ${String(value)}`);
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
function allowedGlobals(where: string): (module: string, name: string) => PickleGlobal | undefined {
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

/**
 * Describes what a file that is not a torch zip archive is, for the error message.
 * @param first the first bytes of the file (at least 512 when available)
 * @returns a sentence saying what the file seems to be
 */
function notZipReason(first: Uint8Array): string {
  const ustar = new TextDecoder().decode(first.subarray(257, 262));
  if (ustar === "ustar") {
    return "it is in the legacy tar torch.save format, which is not supported; re-save it with " +
      "PyTorch 1.6 or later";
  }
  return "it is not a zip archive written by torch.save";
}

/**
 * Opens a torch zip checkpoint and unpickles its object tree, without decoding any tensor.
 * @param input the file's bytes or a reader over it
 * @param description names the file in error messages
 * @returns the object tree and a tensor decoder
 */
export async function openPytorchCheckpoint(
  input: Uint8Array | ByteReader,
  description?: string,
): Promise<TorchCheckpoint> {
  const reader = input instanceof Uint8Array ? memoryReader(input, description) : input;
  const name = description ?? reader.description;
  const where = `Cannot read PyTorch checkpoint ${name}`;
  const first = await reader.read(0, Math.min(reader.size, 512));
  if (!looksLikeZip(first)) {
    if (first[0] === 0x80) return await openLegacy(reader, name, where);
    throw new TypeError(`${where}: ${notZipReason(first)}`);
  }
  let entries: Map<string, ZipEntry>;
  try {
    entries = await readZipDirectory(reader);
  } catch (error) {
    throw new RangeError(`${where}: ${(error as Error).message}`);
  }
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new SyntaxError(
      `${where}: expected exactly one <root>/data.pkl entry: found ${pickles.length}`,
    );
  }
  const root = pickles[0]!.slice(0, -"/data.pkl".length);
  const byteorder = entries.get(`${root}/byteorder`);
  if (byteorder !== undefined) {
    const order = new TextDecoder().decode(await readZipEntry(reader, byteorder)).trim();
    if (order !== "little") {
      throw new TypeError(`${where}: byteorder must be "little": received "${order}"`);
    }
  }
  const pickle = await readZipEntry(reader, entries.get(pickles[0]!)!);
  const storages = new Map<string, TorchStorageRef>();
  const tree = unpickle(pickle, {
    description: `${pickles[0]} in ${name}`,
    findGlobal: allowedGlobals(where),
    persistentLoad: storageLoader(storages, where),
  });
  return {
    root: tree,
    async materialize(ref: TorchTensorRef, tensorName: string): Promise<RawTensor> {
      const entry = entries.get(`${root}/data/${ref.storage.key}`);
      if (entry === undefined) {
        throw new RangeError(
          `${where}: tensor "${tensorName}": storage ${ref.storage.key} is missing from the archive`,
        );
      }
      return await decodeTensor(ref, tensorName, where, entry.size, async (begin, end) => {
        const storageBytes = await readZipEntry(reader, entry);
        return storageBytes.subarray(begin, end);
      });
    },
  };
}

/** The persistent-id loader shared by both formats: `("storage", type, key, location, numel[, view])`. */
function storageLoader(
  storages: Map<string, TorchStorageRef>,
  where: string,
): (pid: unknown) => unknown {
  return (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new TypeError(`${where}: unsupported persistent id ${String(pid)}`);
    }
    const [, type, key, , numel, view] = pid;
    const typeName = (type as PickleGlobal | undefined)?.qualifiedName?.replace(/^torch\./, "");
    const info = typeName === undefined ? undefined : STORAGE_TYPES[typeName];
    if (info === undefined || typeof key !== "string" || typeof numel !== "number") {
      throw new TypeError(`${where}: unsupported storage ${String(typeName)} in persistent id`);
    }
    let storage = storages.get(key);
    if (storage === undefined) {
      storage = new TorchStorageRef(key, info.dtype, info.bytes, numel);
      storages.set(key, storage);
    }
    if (Array.isArray(view)) {
      // Legacy storage views: (view_key, element offset, view size) into the root storage.
      const [, offset, size] = view;
      if (typeof offset !== "number" || typeof size !== "number" || offset + size > numel) {
        throw new RangeError(`${where}: storage view ${String(view)} lies outside storage ${key}`);
      }
      return new TorchStorageRef(key, info.dtype, info.bytes, numel, offset);
    }
    return storage;
  };
}

/**
 * Checks a tensor view against its storage, reads the bytes it spans and decodes them.
 * @param read returns storage bytes [begin, end) (byte offsets within the storage)
 */
async function decodeTensor(
  ref: TorchTensorRef,
  tensorName: string,
  where: string,
  storageBytes: number,
  read: (begin: number, end: number) => Promise<Uint8Array>,
): Promise<RawTensor> {
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
  const window = await read(first * itemBytes, needed);
  const values = decodeLittleEndian(ref.storage.dtype, window, tensorName);
  return { shape: [...ref.shape], data: gather(values, ref.shape, ref.stride, count) };
}

/** The first pickle of a legacy torch file: this magic number. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Opens a checkpoint in the legacy (PyTorch < 1.6) `torch.save` format: five pickles in a row
 * (magic number, protocol 1001, system info, the object, the storage keys), then each storage as
 * an 8-byte element count and its raw bytes, in the order of the keys.
 */
async function openLegacy(
  reader: ByteReader,
  name: string,
  where: string,
): Promise<TorchCheckpoint> {
  let chunk = Math.min(reader.size, 1 << 20);
  while (true) {
    const head = await reader.read(0, chunk);
    try {
      return parseLegacy(head, reader, name, where);
    } catch (error) {
      if (error instanceof PickleTruncatedError && chunk < reader.size) {
        chunk = Math.min(reader.size, chunk * 4);
        continue;
      }
      throw error;
    }
  }
}

function parseLegacy(
  head: Uint8Array,
  reader: ByteReader,
  name: string,
  where: string,
): TorchCheckpoint {
  const plain = { description: name, findGlobal: () => undefined };
  let r = unpickleAt(head, 0, plain);
  if (r.value !== LEGACY_MAGIC) {
    throw new TypeError(`${where}: it is neither a torch zip archive nor a legacy torch file`);
  }
  r = unpickleAt(head, r.end, plain);
  if (r.value !== 1001) {
    throw new TypeError(`${where}: legacy torch protocol ${String(r.value)} is not supported`);
  }
  r = unpickleAt(head, r.end, plain);
  const sysInfo = r.value;
  if (sysInfo instanceof Map && sysInfo.get("little_endian") === false) {
    throw new TypeError(`${where}: it was saved on a big-endian machine; not supported`);
  }
  const storages = new Map<string, TorchStorageRef>();
  r = unpickleAt(head, r.end, {
    description: name,
    findGlobal: allowedGlobals(where),
    persistentLoad: storageLoader(storages, where),
  });
  const tree = r.value;
  r = unpickleAt(head, r.end, plain);
  const keys = r.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    throw new TypeError(`${where}: the legacy storage key list is malformed`);
  }
  const positions = new Map<string, number>();
  let position = r.end;
  for (const key of keys as string[]) {
    const storage = storages.get(key);
    if (storage === undefined) {
      throw new TypeError(`${where}: storage ${key} is listed but no tensor uses it`);
    }
    positions.set(key, position + 8);
    position += 8 + storage.numel * storage.itemBytes;
  }
  if (position > reader.size) {
    throw new RangeError(
      `${where}: the storages need ${position} bytes but the file has ${reader.size}; it is ` +
        `truncated`,
    );
  }
  return {
    root: tree,
    async materialize(ref: TorchTensorRef, tensorName: string): Promise<RawTensor> {
      const start = positions.get(ref.storage.key);
      if (start === undefined) {
        throw new RangeError(
          `${where}: tensor "${tensorName}": storage ${ref.storage.key} is not in the file`,
        );
      }
      const header = await reader.read(start - 8, 8);
      const stored = Number(
        new DataView(header.buffer, header.byteOffset, 8).getBigInt64(0, true),
      );
      if (stored !== ref.storage.numel) {
        throw new RangeError(
          `${where}: storage ${ref.storage.key} holds ${stored} elements, the pickle says ` +
            `${ref.storage.numel}`,
        );
      }
      const size = ref.storage.numel * ref.storage.itemBytes;
      return await decodeTensor(
        ref,
        tensorName,
        where,
        size,
        (begin, end) => reader.read(start + begin, end - begin),
      );
    },
  };
}

/** Copies a strided view into a new row-major array (or returns it when already contiguous). */
function gather(
  values: Float32Array,
  shape: number[],
  stride: number[],
  count: number,
): Float32Array {
  let expected = 1;
  let contiguous = true;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i] !== expected) contiguous = false;
    expected *= shape[i]!;
  }
  if (contiguous) return values.length === count ? values : values.slice(0, count);
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

/**
 * Collects the tensors of a state-dict map, decoding them one at a time.
 * @param checkpoint an opened checkpoint
 * @param map the dict holding tensors by name
 * @param options name filter and key rename
 * @returns the decoded state dict
 */
export async function collectStateDict(
  checkpoint: TorchCheckpoint,
  map: Map<unknown, unknown>,
  options: { filter?: (name: string) => boolean; description: string },
): Promise<StateDict> {
  const result: StateDict = new Map();
  for (const [key, value] of map) {
    if (typeof key !== "string") {
      throw new TypeError(
        `Cannot read ${options.description}: state dict key ${key} is not a string`,
      );
    }
    if (options.filter && !options.filter(key)) continue;
    if (!(value instanceof TorchTensorRef)) {
      throw new TypeError(
        `Cannot read ${options.description}: state dict entry "${key}" is not a tensor`,
      );
    }
    result.set(key, await checkpoint.materialize(value, key));
  }
  return result;
}

/**
 * Reads a `pytorch_model.bin` (torch.save zip format) holding a state dict.
 *
 * @param input the file's bytes or a reader over it (use `openFileReader` to stream from disk)
 * @param options description for errors and a name filter
 * @returns tensors by name, decoded to float32
 */
export async function readPytorchCheckpoint(
  input: Uint8Array | ByteReader,
  options: ReadPytorchOptions = {},
): Promise<StateDict> {
  const description = options.description ??
    (input instanceof Uint8Array ? "pytorch_model.bin" : input.description);
  const checkpoint = await openPytorchCheckpoint(input, description);
  let root = checkpoint.root;
  // Training checkpoints wrap the weights: {"state_dict": ...} or {"model": ...}.
  if (root instanceof Map && ![...root.values()].some((v) => v instanceof TorchTensorRef)) {
    for (const key of ["state_dict", "model_state_dict", "model"]) {
      if (root.get(key) instanceof Map) {
        root = root.get(key);
        break;
      }
    }
  }
  if (!(root instanceof Map)) {
    throw new TypeError(
      `Cannot read PyTorch checkpoint ${description}: it does not hold a state dict (a dict of ` +
        `tensors)`,
    );
  }
  return collectStateDict(checkpoint, root, { filter: options.filter, description });
}
