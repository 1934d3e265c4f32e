/**
 * Elementwise, reduction and layout kernels for the "blas" backend. The cpu backend's versions
 * of these are generic (per-element index arithmetic for broadcasting, closures per element);
 * after the matrix products move to BLAS they take most of a BERT forward pass. These are
 * float32 fast paths with flat typed-array loops; every other case calls the cpu kernel.
 * @module
 */
import { tf } from "../tf.ts";
import { normalCdf, rowMax, softmaxRow } from "./fast_math.ts";

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;

interface CpuLikeBackend {
  data: { get(id: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): TensorInfo;
}

function f32(backend: CpuLikeBackend, info: TensorInfo): Float32Array | undefined {
  if (info.dtype !== "float32") return undefined;
  const values = backend.data.get(info.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

const ADD = 0, SUB = 1, MUL = 2, DIV = 3;
type BinaryOp = typeof ADD | typeof SUB | typeof MUL | typeof DIV;

/** out[o + j] = a[ia + j * sa] (op) b[ib + j * sb] for j < n. */
function binaryRun(
  op: BinaryOp,
  out: Float32Array,
  o: number,
  a: Float32Array,
  ia: number,
  sa: number,
  b: Float32Array,
  ib: number,
  sb: number,
  n: number,
): void {
  if (sa === 1 && sb === 1) {
    switch (op) {
      case ADD:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! + b[ib + j]!;
        return;
      case SUB:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! - b[ib + j]!;
        return;
      case MUL:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! * b[ib + j]!;
        return;
      default:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! / b[ib + j]!;
        return;
    }
  }
  if (sa === 1 && sb === 0) {
    const y = b[ib]!;
    switch (op) {
      case ADD:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! + y;
        return;
      case SUB:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! - y;
        return;
      case MUL:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! * y;
        return;
      default:
        for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! / y;
        return;
    }
  }
  if (sa === 0 && sb === 1) {
    const x = a[ia]!;
    switch (op) {
      case ADD:
        for (let j = 0; j < n; j++) out[o + j] = x + b[ib + j]!;
        return;
      case SUB:
        for (let j = 0; j < n; j++) out[o + j] = x - b[ib + j]!;
        return;
      case MUL:
        for (let j = 0; j < n; j++) out[o + j] = x * b[ib + j]!;
        return;
      default:
        for (let j = 0; j < n; j++) out[o + j] = x / b[ib + j]!;
        return;
    }
  }
  for (let j = 0; j < n; j++) {
    const x = a[ia + j * sa]!, y = b[ib + j * sb]!;
    out[o + j] = op === ADD ? x + y : op === SUB ? x - y : op === MUL ? x * y : x / y;
  }
}

/**
 * Broadcast `a (op) b` in row-major order: the output's axes, each with both inputs' strides
 * (0 where broadcast), size-1 axes dropped and adjacent axes merged, then one `binaryRun` per
 * row of the last merged axis.
 */
function broadcastBinary(
  op: BinaryOp,
  aShape: number[],
  av: Float32Array,
  bShape: number[],
  bv: Float32Array,
  outShape: number[],
): Float32Array {
  const size = tf.util.sizeFromShape(outShape);
  const out = new Float32Array(size);
  if (size === 0) return out;
  const rank = outShape.length;
  const strides = (shape: number[]): number[] => {
    const s = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      const axis = rank - shape.length + i;
      s[axis] = shape[i] === 1 ? 0 : acc;
      acc *= shape[i]!;
    }
    return s;
  };
  const sa = strides(aShape), sb = strides(bShape);
  const dims: number[] = [], da: number[] = [], db: number[] = [];
  for (let i = 0; i < rank; i++) {
    const d = outShape[i]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (
      last >= 0 && da[last] === sa[i]! * d && db[last] === sb[i]! * d
    ) {
      dims[last] = dims[last]! * d;
      da[last] = sa[i]!;
      db[last] = sb[i]!;
    } else {
      dims.push(d);
      da.push(sa[i]!);
      db.push(sb[i]!);
    }
  }
  if (dims.length === 0) {
    binaryRun(op, out, 0, av, 0, 0, bv, 0, 0, 1);
    return out;
  }
  const inner = dims.length - 1;
  const n = dims[inner]!, ja = da[inner]!, jb = db[inner]!;
  const rows = size / n;
  const counter = new Array<number>(inner).fill(0);
  let ia = 0, ib = 0;
  for (let r = 0; r < rows; r++) {
    binaryRun(op, out, r * n, av, ia, ja, bv, ib, jb, n);
    for (let axis = inner - 1; axis >= 0; axis--) {
      counter[axis]!++;
      ia += da[axis]!;
      ib += db[axis]!;
      if (counter[axis]! < dims[axis]!) break;
      ia -= da[axis]! * dims[axis]!;
      ib -= db[axis]! * dims[axis]!;
      counter[axis] = 0;
    }
  }
  return out;
}

function binaryKernel(op: BinaryOp, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const av = f32(backend, a), bv = f32(backend, b);
    if (!av || !bv) return fallback(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = broadcastBinary(op, a.shape, av, b.shape, bv, outShape);
    return backend.makeTensorInfo(outShape, "float32", out);
  };
}

/** Softmax over the last axis: max, exp of the difference, normalise; one pass per row. */
function softmaxKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { logits } = args.inputs as { logits: TensorInfo };
    const { dim } = args.attrs as { dim: number };
    const xv = f32(backend, logits);
    const rank = logits.shape.length;
    if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return fallback(args);
    const n = logits.shape[rank - 1]!;
    const out = new Float32Array(xv.length);
    if (n === 0) return backend.makeTensorInfo(logits.shape, "float32", out);
    out.set(xv);
    for (let o = 0; o < xv.length; o += n) softmaxRow(out, o, n, rowMax(out, o, n));
    return backend.makeTensorInfo(logits.shape, "float32", out);
  };
}

/**
 * erf as `2 Phi(x sqrt 2) - 1`, Phi from the table of cubic pieces built on the cpu backend's
 * erf (within 2e-8 of it), about 4x faster than evaluating that approximation per element.
 */
function erfKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const xv = f32(backend, x);
    if (!xv) return fallback(args);
    const out = new Float32Array(xv.length);
    for (let i = 0; i < xv.length; i++) out[i] = 2 * normalCdf(xv[i]! * Math.SQRT2) - 1;
    return backend.makeTensorInfo(x.shape, "float32", out);
  };
}

/** Transpose: walks the output in order; the innermost axis copies with one input stride. */
function transposeKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    const xv = f32(backend, x);
    const rank = x.shape.length;
    if (!xv || rank < 2 || perm.length !== rank) return fallback(args);
    const outShape = perm.map((p) => x.shape[p]!);
    const inStrides = new Array<number>(rank);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      inStrides[i] = acc;
      acc *= x.shape[i]!;
    }
    const stride = perm.map((p) => inStrides[p]!); // input stride of each output axis
    const out = new Float32Array(xv.length);
    const n = outShape[rank - 1]!, s = stride[rank - 1]!;
    if (out.length === 0) return backend.makeTensorInfo(outShape, "float32", out);
    const rows = out.length / n;
    const counter = new Array<number>(rank - 1).fill(0);
    let base = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      if (s === 1) out.set(xv.subarray(base, base + n), o);
      else for (let j = 0; j < n; j++) out[o + j] = xv[base + j * s]!;
      for (let axis = rank - 2; axis >= 0; axis--) {
        counter[axis]!++;
        base += stride[axis]!;
        if (counter[axis]! < outShape[axis]!) break;
        base -= stride[axis]! * outShape[axis]!;
        counter[axis] = 0;
      }
    }
    return backend.makeTensorInfo(outShape, "float32", out);
  };
}

/** Tile: each output row of the last axis copies one input row, repeated along that axis. */
function tileKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { reps } = args.attrs as { reps: number[] };
    const xv = f32(backend, x);
    const rank = x.shape.length;
    if (!xv || rank === 0 || reps.length !== rank) return fallback(args);
    const outShape = x.shape.map((d, i) => d * reps[i]!);
    const out = new Float32Array(tf.util.sizeFromShape(outShape));
    const n = x.shape[rank - 1]!, outN = outShape[rank - 1]!;
    if (out.length === 0) return backend.makeTensorInfo(outShape, "float32", out);
    const inStrides = new Array<number>(rank);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      inStrides[i] = acc;
      acc *= x.shape[i]!;
    }
    const rows = out.length / outN;
    const counter = new Array<number>(rank - 1).fill(0);
    for (let r = 0; r < rows; r++) {
      let base = 0;
      for (let axis = 0; axis < rank - 1; axis++) {
        base += (counter[axis]! % x.shape[axis]!) * inStrides[axis]!;
      }
      const src = xv.subarray(base, base + n);
      for (let k = 0; k < outN; k += n) out.set(src, r * outN + k);
      for (let axis = rank - 2; axis >= 0; axis--) {
        counter[axis]!++;
        if (counter[axis]! < outShape[axis]!) break;
        counter[axis] = 0;
      }
    }
    return backend.makeTensorInfo(outShape, "float32", out);
  };
}

/** Copies the box `begin`..`begin + size` of a row-major array of `shape`, row by row. */
function sliceBox(
  xv: Float32Array,
  shape: number[],
  begin: number[],
  size: number[],
): Float32Array {
  const rank = shape.length;
  const out = new Float32Array(tf.util.sizeFromShape(size));
  if (out.length === 0) return out;
  const strides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i]!;
  }
  let base = 0;
  for (let i = 0; i < rank; i++) base += begin[i]! * strides[i]!;
  const n = size[rank - 1]!;
  const rows = out.length / n;
  const counter = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    out.set(xv.subarray(base, base + n), r * n);
    for (let axis = rank - 2; axis >= 0; axis--) {
      counter[axis]!++;
      base += strides[axis]!;
      if (counter[axis]! < size[axis]!) break;
      base -= strides[axis]! * size[axis]!;
      counter[axis] = 0;
    }
  }
  return out;
}

/** Slice of float32 tensors, copying whole runs of the last axis. */
function sliceKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs as { begin: number | number[]; size: number | number[] };
    const xv = f32(backend, x);
    if (!xv || x.shape.length === 0) return fallback(args);
    const parsed = tf.slice_util.parseSliceParams(
      x as unknown as tf.Tensor,
      attrs.begin,
      attrs.size,
    );
    const begin = parsed[0]!, size = parsed[1]!;
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, size);
    return backend.makeTensorInfo(size, "float32", sliceBox(xv, x.shape, begin, size));
  };
}

/** SplitV (e.g. a fused QKV projection into Q, K and V): one box copy per piece. */
function splitKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const xv = f32(backend, x);
    if (!xv || x.shape.length === 0) return fallback(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const piece = backend.makeTensorInfo(size, "float32", sliceBox(xv, x.shape, begin, size));
      begin[ax] = begin[ax]! + s;
      return piece;
    }) as unknown as TensorInfo;
  };
}

/** Sum or mean over the last axis only (LayerNorm's statistics); others fall back. */
function lastAxisReduceKernel(mean: boolean, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const xv = f32(backend, x);
    const rank = x.shape.length;
    if (!xv || rank === 0) return fallback(args);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    if (axes.length !== 1 || axes[0] !== rank - 1) return fallback(args);
    const n = x.shape[rank - 1]!;
    if (n === 0) return fallback(args);
    const outShape = keepDims ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
    const rows = xv.length / n;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      const o = r * n;
      for (let j = 0; j < n; j++) sum += xv[o + j]!;
      out[r] = mean ? sum / n : sum;
    }
    return backend.makeTensorInfo(outShape, "float32", out);
  };
}

/** GatherV2 of whole rows (axis 0, no batch dims): one typed-array copy per index. */
function gatherRowsKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    const xv = f32(backend, x);
    const iv = backend.data.get(indices.dataId).values;
    if (
      !xv || !(iv instanceof Int32Array) || x.shape.length === 0 || (batchDims ?? 0) !== 0 ||
      tf.util.parseAxisParam(axis, x.shape)[0] !== 0
    ) {
      return fallback(args);
    }
    const dim = x.shape[0]!, row = dim === 0 ? 0 : xv.length / dim;
    const out = new Float32Array(iv.length * row);
    for (let i = 0; i < iv.length; i++) {
      const index = iv[i]!;
      if (!(index >= 0 && index < dim)) {
        throw new RangeError(`GatherV2: the index value ${index} is not in [0, ${dim - 1}]`);
      }
      out.set(xv.subarray(index * row, index * row + row), i * row);
    }
    return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], "float32", out);
  };
}

/** The kernels to override, given a lookup of the cpu kernels to fall back to. */
export function fastKernels(
  cpu: (name: string) => KernelFunc,
): Array<[string, KernelFunc]> {
  return [
    [tf.Add, binaryKernel(ADD, cpu(tf.Add))],
    [tf.Sub, binaryKernel(SUB, cpu(tf.Sub))],
    [tf.Multiply, binaryKernel(MUL, cpu(tf.Multiply))],
    [tf.RealDiv, binaryKernel(DIV, cpu(tf.RealDiv))],
    [tf.Softmax, softmaxKernel(cpu(tf.Softmax))],
    [tf.Erf, erfKernel(cpu(tf.Erf))],
    [tf.Transpose, transposeKernel(cpu(tf.Transpose))],
    [tf.Sum, lastAxisReduceKernel(false, cpu(tf.Sum))],
    [tf.Mean, lastAxisReduceKernel(true, cpu(tf.Mean))],
    [tf.GatherV2, gatherRowsKernel(cpu(tf.GatherV2))],
    [tf.Tile, tileKernel(cpu(tf.Tile))],
    [tf.Slice, sliceKernel(cpu(tf.Slice))],
    [tf.SplitV, splitKernel(cpu(tf.SplitV))],
  ];
}
