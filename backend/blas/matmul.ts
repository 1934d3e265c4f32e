/**
 * `BatchMatMul` and `_FusedMatMul` kernels for the "blas" backend: float32 GEMMs go to the
 * system BLAS (`cblas_sgemm`); everything else falls back to the cpu backend's kernels.
 * @module
 */
import { tf } from "../tf.ts";
import type { BlasLibrary } from "./library.ts";

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;

/** The slice of `MathBackendCPU` these kernels use. */
interface CpuLikeBackend {
  data: { get(id: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): TensorInfo;
  disposeIntermediateTensorInfo(info: TensorInfo): void;
}

interface MatMulPlan {
  outShape: number[];
  batchA: number;
  batchB: number;
  batch: number;
  m: number;
  n: number;
  k: number;
}

/** Shapes of a (possibly batched, broadcast) matmul, with tfjs's rules and error text. */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulPlan {
  const ra = a.shape.length, rb = b.shape.length;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new TypeError(
      `Cannot multiply matrices on the blas backend: inner dimensions must match: received ` +
        `shapes [${a.shape}] and [${b.shape}] with transposeA=${transposeA} and ` +
        `transposeB=${transposeB}`,
    );
  }
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = tf.util.sizeFromShape(outerA), batchB = tf.util.sizeFromShape(outerB);
  return {
    outShape: [...outer, m, n],
    batchA,
    batchB,
    batch: Math.max(batchA, batchB),
    m,
    n,
    k,
  };
}

/**
 * Runs the GEMMs of a batched matmul into `out` (`[batch, m, n]`), which must hold the
 * initial C when `beta` is 1. Batch indices wrap like the cpu backend's (`i % batchA`).
 */
function gemmBatched(
  lib: BlasLibrary,
  av: Float32Array,
  bv: Float32Array,
  p: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
  out: Float32Array,
  beta: number,
): void {
  const { m, n, k, batchA, batchB, batch } = p;
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (beta === 0) out.fill(0);
    return;
  }
  const lda = transposeA ? m : k, ldb = transposeB ? k : n;
  if (batchB === 1 && !transposeA && batch === batchA) {
    // [batch, m, k] x [k, n]: one GEMM with batch * m rows.
    lib.sgemm(false, transposeB, batch * m, n, k, 1, av, lda, bv, ldb, beta, out, n);
    return;
  }
  const sa = m * k, sb = k * n, sc = m * n;
  for (let i = 0; i < batch; i++) {
    const ia = i % batchA, ib = i % batchB;
    lib.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      1,
      batchA === 1 ? av : av.subarray(ia * sa, ia * sa + sa),
      lda,
      batchB === 1 ? bv : bv.subarray(ib * sb, ib * sb + sb),
      ldb,
      beta,
      out.subarray(i * sc, i * sc + sc),
      n,
    );
  }
}

function floatValues(backend: CpuLikeBackend, info: TensorInfo): Float32Array | undefined {
  if (info.dtype !== "float32") return undefined;
  const values = backend.data.get(info.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/** Applies an activation in place; returns false for ones it does not handle (prelu). */
function activateInPlace(out: Float32Array, activation: string, alpha: number): boolean {
  const len = out.length;
  switch (activation) {
    case "linear":
      return true;
    case "relu":
      for (let i = 0; i < len; i++) if (out[i]! < 0) out[i] = 0;
      return true;
    case "relu6":
      for (let i = 0; i < len; i++) {
        const v = out[i]!;
        out[i] = v < 0 ? 0 : v > 6 ? 6 : v;
      }
      return true;
    case "leakyrelu":
      for (let i = 0; i < len; i++) {
        const v = out[i]!;
        if (v < 0) out[i] = alpha * v;
      }
      return true;
    case "elu":
      for (let i = 0; i < len; i++) {
        const v = out[i]!;
        if (v < 0) out[i] = Math.exp(v) - 1;
      }
      return true;
    case "sigmoid":
      for (let i = 0; i < len; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
      return true;
    default:
      return false;
  }
}

/**
 * Runs the blas backend's kernel `name` on `inputs`, then frees the intermediate `used` (one of
 * them): a step of a composite kernel.
 */
function consume(
  args: Parameters<KernelFunc>[0],
  name: string,
  used: TensorInfo,
  inputs: Record<string, TensorInfo>,
): TensorInfo {
  const result = tf.getKernel(name, "blas")!.kernelFunc({
    inputs,
    backend: args.backend,
    attrs: {},
  }) as TensorInfo;
  (args.backend as unknown as CpuLikeBackend).disposeIntermediateTensorInfo(used);
  return result;
}

/** Builds the "blas" `BatchMatMul` kernel; `fallback` is the cpu kernel. */
export function makeBatchMatMul(lib: BlasLibrary, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const av = floatValues(backend, a), bv = floatValues(backend, b);
    if (!av || !bv) return fallback(args);
    const p = plan(a, b, transposeA, transposeB);
    const out = new Float32Array(p.batch * p.m * p.n);
    gemmBatched(lib, av, bv, p, transposeA, transposeB, out, 0);
    return backend.makeTensorInfo(p.outShape, "float32", out);
  };
}

/**
 * Builds the "blas" `_FusedMatMul` kernel: GEMM with the bias preloaded into C (when it
 * broadcasts along the last axis), then the activation in place. Other bias shapes and prelu
 * go through the registered Add/Prelu kernels.
 */
export function makeFusedMatMul(lib: BlasLibrary, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { a, b, bias, preluActivationWeights } = args.inputs as {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const attrs = args.attrs as {
      transposeA: boolean;
      transposeB: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const { transposeA, transposeB } = attrs;
    const activation = attrs.activation ?? "linear";
    const av = floatValues(backend, a), bv = floatValues(backend, b);
    if (!av || !bv) return fallback(args);
    const p = plan(a, b, transposeA, transposeB);
    const rows = p.batch * p.m, n = p.n;
    const out = new Float32Array(rows * n);
    const biasV = bias ? floatValues(backend, bias) : undefined;
    const rowBias = biasV !== undefined && bias !== undefined &&
      (biasV.length === 1 ||
        (biasV.length === n && bias.shape[bias.shape.length - 1] === n &&
          bias.shape.length <= p.outShape.length));
    let beta = 0;
    if (rowBias && biasV) {
      if (biasV.length === 1) out.fill(biasV[0]!);
      else for (let r = 0; r < rows; r++) out.set(biasV, r * n);
      beta = 1;
    }
    gemmBatched(lib, av, bv, p, transposeA, transposeB, out, beta);
    let current = backend.makeTensorInfo(p.outShape, "float32", out);
    if (bias && !rowBias) current = consume(args, "Add", current, { a: current, b: bias });
    const currentV = floatValues(backend, current);
    if (currentV && activateInPlace(currentV, activation, attrs.leakyreluAlpha ?? 0.2)) {
      return current;
    }
    if (activation !== "prelu" || !preluActivationWeights) {
      backend.disposeIntermediateTensorInfo(current);
      return fallback(args);
    }
    return consume(args, "Prelu", current, { x: current, alpha: preluActivationWeights });
  };
}
