/**
 * The wasm backend's kernels behind the ops of `fused_ops.ts`: GELU and LayerNorm (with its
 * residual) as one pass over their rows, and whole multi-head attention from the fused [B*T, 3H]
 * projection. Their composite forms cost a dozen tfjs kernels each (about 400 kernel calls per
 * BERT-base pass for attention alone); at a question's size the calls, not the arithmetic, were
 * the time. All of them read and write tfjs's heap in place (no copies); GELU (`gelu_module.ts`)
 * and attention's two products per head (`attention_module.ts`) run on generated SIMD code, the
 * softmax, LayerNorm and the last few values of a GELU in JavaScript (the same as the "blas"
 * backend's, `backend/blas/fast_math.ts`).
 * @module
 */
import { tf } from "../tf.ts";
import { geluInto, normalizeRows, rowMax, softmaxRow } from "../blas/fast_math.ts";
import { ATTENTION_KERNEL, GELU_KERNEL, LAYER_NORM_KERNEL } from "../ops/fused_ops.ts";
import { attentionModuleBytes, type Scores, type Weighted } from "./attention_module.ts";
import { type Gelu, geluModuleBytes } from "./gelu_module.ts";

type TensorInfo = tf.TensorInfo;

interface WasmHeapBackend {
  wasm: {
    _malloc(bytes: number): number;
    _free(address: number): void;
    HEAPU8: Uint8Array;
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
}

/** Most pages a 32-bit memory may have (what a shared heap is imported with). */
const MAX_PAGES = 65536;

/** Allocates `bytes` of output on tfjs's heap. */
function malloc(backend: WasmHeapBackend, bytes: number, owner: string): number {
  const at = backend.wasm._malloc(Math.max(4, bytes));
  if (at === 0) throw new RangeError(`${owner}: could not allocate ${bytes} bytes`);
  return at;
}

/** A float32 view of `info`'s values on the heap (make views after every allocation). */
function view(backend: WasmHeapBackend, info: TensorInfo, owner: string): Float32Array {
  if (info.dtype !== "float32") {
    throw new TypeError(`${owner}: inputs must be float32 tensors: received ${info.dtype}`);
  }
  const at = backend.dataIdMap.get(info.dataId)!.memoryOffset;
  return new Float32Array(backend.wasm.HEAPU8.buffer, at, tf.util.sizeFromShape(info.shape));
}

const gelu: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmHeapBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const size = tf.util.sizeFromShape(x.shape);
  const out = malloc(backend, size * 4, GELU_KERNEL);
  const xv = view(backend, x, GELU_KERNEL);
  const ov = new Float32Array(backend.wasm.HEAPU8.buffer, out, size);
  const code = heapCode(backend);
  const simd = code === undefined ? 0 : size - (size % 4);
  if (simd > 0) code!.gelu(xv.byteOffset, out, simd);
  geluInto(xv, ov, simd);
  return backend.makeOutput(x.shape, "float32", out);
};

const layerNorm: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmHeapBackend;
  const { x, gamma, beta, residual } = args.inputs as {
    x: TensorInfo;
    gamma: TensorInfo;
    beta: TensorInfo;
    residual?: TensorInfo;
  };
  const { eps } = args.attrs as unknown as { eps: number };
  const size = tf.util.sizeFromShape(x.shape);
  const out = malloc(backend, size * 4, LAYER_NORM_KERNEL);
  const ov = new Float32Array(backend.wasm.HEAPU8.buffer, out, size);
  ov.set(view(backend, x, LAYER_NORM_KERNEL));
  const rv = residual === undefined ? null : view(backend, residual, LAYER_NORM_KERNEL);
  normalizeRows(
    ov,
    rv,
    view(backend, gamma, LAYER_NORM_KERNEL),
    view(backend, beta, LAYER_NORM_KERNEL),
    eps,
  );
  return backend.makeOutput(x.shape, "float32", out);
};

interface AttentionCode {
  scores: Scores;
  weighted: Weighted;
}

/** The generated code instantiated on one heap. */
interface HeapCode extends AttentionCode {
  gelu: Gelu;
}

const instances = new WeakMap<WebAssembly.Memory, HeapCode>();

/** The generated code instantiated on tfjs's heap, or undefined where it is not reachable. */
function heapCode(backend: WasmHeapBackend): HeapCode | undefined {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  let code = instances.get(memory);
  if (code === undefined) {
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const imported = shared
      ? { shared, minPages: 1, maxPages: MAX_PAGES }
      : { shared, minPages: 1 };
    const instantiate = (bytes: Uint8Array<ArrayBuffer>) =>
      new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
    const attention = instantiate(attentionModuleBytes(imported));
    code = {
      scores: attention["scores"] as Scores,
      weighted: attention["weighted"] as Weighted,
      gelu: instantiate(geluModuleBytes(imported))["gelu"] as Gelu,
    };
    instances.set(memory, code);
  }
  return code;
}

/**
 * `out[i] = Σ_j p[i][j] v_j` and `scores = scale · q_i · k_j` in plain JavaScript: for a head size
 * the SIMD code does not take (not a multiple of 4).
 */
const scalarCode = (heap: () => Float32Array): AttentionCode => ({
  scores(q, k, stride, tq, t, d, scale, out) {
    const f = heap(), s = stride >>> 2;
    for (let i = 0; i < tq; i++) {
      for (let j = 0; j < t; j++) {
        let sum = 0;
        for (let c = 0; c < d; c++) sum += f[(q >>> 2) + i * s + c]! * f[(k >>> 2) + j * s + c]!;
        f[(out >>> 2) + i * t + j] = sum * scale;
      }
    }
  },
  weighted(p, v, stride, tq, t, d, out, ldo) {
    const f = heap(), s = stride >>> 2;
    for (let i = 0; i < tq; i++) {
      for (let c = 0; c < d; c++) {
        let sum = 0;
        for (let j = 0; j < t; j++) sum += f[(p >>> 2) + i * t + j]! * f[(v >>> 2) + j * s + c]!;
        f[(out >>> 2) + i * (ldo >>> 2) + c] = sum;
      }
    }
  },
});

const attention: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmHeapBackend;
  const { qkv, maskBias } = args.inputs as { qkv: TensorInfo; maskBias?: TensorInfo };
  const { batch, seq, heads, firstOnly } = args.attrs as unknown as {
    batch: number;
    seq: number;
    heads: number;
    firstOnly: boolean;
  };
  const h3 = qkv.shape[1]!, h = h3 / 3, d = h / heads, t = seq, tq = firstOnly ? 1 : t;
  const out = malloc(backend, batch * tq * h * 4, ATTENTION_KERNEL);
  if (t === 0 || d === 0 || batch === 0) {
    new Float32Array(backend.wasm.HEAPU8.buffer, out, batch * tq * h).fill(0);
    return backend.makeOutput([batch * tq, h], "float32", out);
  }
  let scratch = 0;
  try {
    scratch = malloc(backend, heads * tq * t * 4, ATTENTION_KERNEL);
    const heap = () => new Float32Array(backend.wasm.HEAPU8.buffer);
    const code = d % 4 === 0 ? heapCode(backend) ?? scalarCode(heap) : scalarCode(heap);
    const q0 = backend.dataIdMap.get(qkv.dataId)!.memoryOffset;
    const mask = maskBias === undefined ? null : view(backend, maskBias, ATTENTION_KERNEL);
    const scale = 1 / Math.sqrt(d), stride = h3 * 4;
    for (let b = 0; b < batch; b++) {
      const base = q0 + b * t * stride;
      for (let n = 0; n < heads; n++) {
        const block = scratch + n * tq * t * 4;
        code.scores(base + n * d * 4, base + (h + n * d) * 4, stride, tq, t, d, scale, block);
      }
      // Softmax of every head's rows, the mask bias added first (one view: no allocation since).
      const scores = new Float32Array(backend.wasm.HEAPU8.buffer, scratch, heads * tq * t);
      for (let o = 0; o < scores.length; o += t) {
        if (mask !== null) {
          for (let j = 0; j < t; j++) scores[o + j] = scores[o + j]! + mask[b * t + j]!;
        }
        softmaxRow(scores, o, t, rowMax(scores, o, t));
      }
      for (let n = 0; n < heads; n++) {
        const block = scratch + n * tq * t * 4;
        const dst = out + (b * tq * h + n * d) * 4;
        code.weighted(block, base + (2 * h + n * d) * 4, stride, tq, t, d, dst, h * 4);
      }
    }
  } catch (error) {
    backend.wasm._free(out);
    throw error;
  } finally {
    if (scratch !== 0) backend.wasm._free(scratch);
  }
  return backend.makeOutput([batch * tq, h], "float32", out);
};

for (
  const [kernelName, kernelFunc] of [
    [GELU_KERNEL, gelu],
    [LAYER_NORM_KERNEL, layerNorm],
    [ATTENTION_KERNEL, attention],
  ] as const
) {
  if (tf.getKernel(kernelName, "wasm") === undefined) {
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  }
}
