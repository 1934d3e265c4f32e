/**
 * A checkpoint read one tensor at a time: every tensor's name and shape up front, values on
 * request. Loaders take weights from it into their final storage one by one, so a model never
 * exists twice in memory. Every weight format is read by byte ranges (`ranged_source.ts`), never
 * held whole.
 * @module
 */
import type { LayoutBinding } from "./layers_layout.ts";
import type { StateDict } from "./state_dict.ts";

/**
 * A checkpoint's tensors (PyTorch names and layouts, or a layers model's where `layersBindings`
 * says so), read on request.
 */
export interface TensorSource {
  /** Names the checkpoint in error messages. */
  readonly description: string;
  /** Every tensor's name and shape, in the file's order. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Each tensor's stored dtype (safetensors names: "F32", "F16", "I8", ...), where known. */
  readonly dtypes?: ReadonlyMap<string, string>;
  /** The file's string metadata, where it has any. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** One tensor's stored bytes, undecoded (little-endian), where the format keeps them. */
  readRaw?(name: string): Promise<Uint8Array>;
  /**
   * {@linkcode TensorSource.readRaw} into `target` (exactly the tensor's byte size), where the
   * format allows: the bytes go straight to their final storage, no buffer of their own made.
   * @throws RangeError for a name the checkpoint lacks or a target of another size
   */
  readRawInto?(name: string, target: Uint8Array): Promise<void>;
  /**
   * One tensor's values as float32 (a fresh array the caller may keep or modify).
   * @throws RangeError for a name the checkpoint lacks
   */
  read(name: string): Promise<Float32Array>;
  /**
   * Rows `start..end` of a tensor (its first axis), as float32, where the format allows reading
   * part of a tensor (a large table can then be quantized a block of rows at a time). The array
   * may be a view of a buffer the next `readRows` call reuses: use it before reading again.
   */
  readRows?(name: string, start: number, end: number): Promise<Float32Array>;
  /**
   * Set when the tensors are a tfjs layers model's weights (a converted folder): they carry the
   * layers' own names and layouts, and these bindings (from its `model.json`) say which
   * checkpoint keys each holds, so a loader can write them straight into the layers.
   */
  readonly layersBindings?: readonly LayoutBinding[];
  /** Releases the file, if any. */
  close(): void;
}

/**
 * A tensor source over a state dict already in memory (formats read whole).
 * @param stateDict the tensors
 * @param description names it in error messages
 * @returns the source; reading hands out the state dict's own arrays
 */
export function stateDictSource(stateDict: StateDict, description: string): TensorSource {
  const shapes = new Map([...stateDict].map(([name, t]) => [name, t.shape] as const));
  return {
    description,
    shapes,
    read(name: string): Promise<Float32Array> {
      const tensor = stateDict.get(name);
      if (tensor === undefined) {
        return Promise.reject(new RangeError(`Cannot read ${name}: ${description} lacks it`));
      }
      return Promise.resolve(tensor.data);
    },
    close(): void {},
  };
}

/**
 * Reads every tensor of a source into a state dict (for callers that need them all at once:
 * conversion, `resolvePretrained`), one at a time.
 * @param tensors the source (not closed here)
 * @returns the tensors by name, in the source's order
 */
export async function collectTensors(tensors: TensorSource): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const [name, shape] of tensors.shapes) {
    out.set(name, { shape: [...shape], data: await tensors.read(name) });
  }
  return out;
}
