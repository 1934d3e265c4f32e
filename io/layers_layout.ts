/**
 * The bridge between a checkpoint's PyTorch layout and the weights of our tfjs layers models.
 *
 * A {@linkcode LayersLayout} lists, for one model configuration, the layers model's weights
 * (`originalName`, shape) and the bindings from PyTorch state-dict keys onto them: which weight,
 * whether the PyTorch tensor is transposed (Linear weights are [out, in], ours [in, out]) and
 * which slice of a fused weight it is (query/key/value share one kernel). With it a checkpoint is
 * rearranged into the layers model's weights one weight at a time, and a converted folder is
 * read back under PyTorch names (`layers_source.ts`), without building the model.
 * @module
 */
import { isIgnoredKey } from "./checkpoint_keys.ts";
import { transposeInto } from "./transpose.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";
import type { WeightSource } from "./tfjs_artifacts.ts";

/** One PyTorch tensor bound to (a slice of) one layers-model weight. */
export interface LayoutBinding {
  /** The PyTorch state-dict key. */
  key: string;
  /** The layers-model weight's `originalName`. */
  weight: string;
  /** The PyTorch tensor is the transpose of the (slice of the) weight. */
  transpose: boolean;
  /** For fused weights: slice `index` of `count` equal slices of the last axis. */
  part?: { index: number; count: number };
}

/** A layers model's weights and how a PyTorch checkpoint maps onto them. */
export interface LayersLayout {
  /** The layers model's topology (`LayersModel.toJSON(null, false)`). */
  topology: unknown;
  /** Every weight of the layers model, in its order. */
  weights: { name: string; shape: number[] }[];
  /** Every checkpoint key the model uses. */
  bindings: LayoutBinding[];
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Transposes a 2-D row-major matrix (1-D tensors are returned as they are).
 * @param data the values
 * @param shape [rows, cols] or [n]
 * @returns the transposed values and shape
 */
export function transpose2d(data: Float32Array, shape: readonly number[]): RawTensor {
  if (shape.length < 2) return { shape: [...shape], data };
  if (shape.length !== 2) throw new TypeError(`Cannot transpose a tensor of shape [${shape}]`);
  const [rows, cols] = shape as [number, number];
  const out = new Float32Array(rows * cols);
  transposeInto(data, rows, cols, out);
  return { shape: [cols, rows], data: out };
}

/**
 * The PyTorch shape a binding expects, given its weight's shape.
 * @param binding the binding
 * @param weightShape the layers-model weight's shape
 * @returns the checkpoint tensor's shape
 */
export function expectedShape(binding: LayoutBinding, weightShape: readonly number[]): number[] {
  const shape = [...weightShape];
  shape[shape.length - 1] = shape[shape.length - 1]! / (binding.part?.count ?? 1);
  return binding.transpose ? shape.reverse() : shape;
}

/**
 * Checks a checkpoint against a layout (every bound key present with the right shape, no
 * unknown keys) and returns the layers model's weights as sources that rearrange one weight at a
 * time when read.
 * @param stateDict the checkpoint (PyTorch names and layouts)
 * @param layout the target layout
 * @param owner names the model in errors
 * @returns one source per layers-model weight
 * @throws TypeError listing every missing, unexpected and wrongly shaped key
 */
export function toLayersWeights(
  stateDict: StateDict,
  layout: LayersLayout,
  owner: string,
): WeightSource[] {
  const shapes = new Map(layout.weights.map((w) => [w.name, w.shape]));
  const byWeight = new Map<string, LayoutBinding[]>();
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const binding of layout.bindings) {
    const shape = shapes.get(binding.weight);
    if (shape === undefined) {
      throw new TypeError(`Cannot map ${owner}: binding ${binding.key} names unknown weight`);
    }
    const tensor = stateDict.get(binding.key);
    if (tensor === undefined) {
      missing.push(binding.key);
    } else {
      const want = expectedShape(binding, shape);
      if (
        tensor.shape.length !== want.length || tensor.shape.some((d, i) => d !== want[i]) ||
        tensor.data.length !== size(want)
      ) {
        wrong.push(`${binding.key} (expected [${want}], received [${tensor.shape}])`);
      }
    }
    const list = byWeight.get(binding.weight) ?? [];
    list.push(binding);
    byWeight.set(binding.weight, list);
  }
  const bound = new Set(layout.bindings.map((b) => b.key));
  const unexpected = [...stateDict.keys()].filter((k) => !bound.has(k) && !isIgnoredKey(k));
  const unbound = layout.weights.filter((w) => !byWeight.has(w.name)).map((w) => w.name);
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing keys: ${missing.join(", ")}`);
  if (unexpected.length > 0) problems.push(`unexpected keys: ${unexpected.join(", ")}`);
  if (wrong.length > 0) problems.push(`wrong shapes: ${wrong.join(", ")}`);
  if (unbound.length > 0) problems.push(`weights no key fills: ${unbound.join(", ")}`);
  if (problems.length > 0) {
    throw new TypeError(`Cannot convert weights for ${owner}: ${problems.join("; ")}`);
  }
  return layout.weights.map((w) => ({
    name: w.name,
    shape: [...w.shape],
    read: (): Float32Array => assemble(w.shape, byWeight.get(w.name)!, stateDict),
  }));
}

/** Builds one layers-model weight from its bound PyTorch tensors. */
function assemble(
  shape: readonly number[],
  bindings: LayoutBinding[],
  stateDict: StateDict,
): Float32Array {
  const sorted = [...bindings].sort((a, b) => (a.part?.index ?? 0) - (b.part?.index ?? 0));
  const pieces = sorted.map((b) => {
    const t = stateDict.get(b.key)!;
    return b.transpose ? transpose2d(t.data, t.shape).data : t.data;
  });
  if (pieces.length === 1) return pieces[0]!;
  // Fused: the pieces sit side by side along the last axis.
  const last = shape[shape.length - 1]!;
  const width = last / pieces.length;
  const rows = size(shape) / last;
  const out = new Float32Array(size(shape));
  pieces.forEach((piece, p) => {
    for (let r = 0; r < rows; r++) {
      out.set(piece.subarray(r * width, (r + 1) * width), r * last + p * width);
    }
  });
  return out;
}
