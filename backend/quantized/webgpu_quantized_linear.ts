/**
 * The quantized linear kernel of tfjs's "webgpu" backend: a WGSL shader that reads W in its
 * quantized form inside the product. int8 codes travel packed four to a 32-bit word (one float32
 * scale per output channel, applied to each finished sum) and float16 values two to a word
 * (`unpack2x16float`); each row of W starts on a word (a row of K values takes ceil(K / 4) or
 * ceil(K / 2) words, the tail padded with zeros). The packed rows are uploaded once per weight
 * and kept on the {@linkcode QuantizedWeight} (GPU memory at the quantized size), until the
 * model that holds the weight is disposed.
 *
 * Each thread computes one output column for 4 rows of x: it walks W's row once, 4 values at a
 * time (one int8 word, two float16 words), and uses each value for the 4 rows. No workgroup
 * memory and no barriers: Mesa's llvmpipe (the software adapter CI runs) compiles a tiled shader
 * with barriers in over a minute, this one in under a second.
 * @module
 */
import type { tf } from "../tf.ts";
import { registerQuantizedLinear } from "../ops/quantized_linear.ts";
import type { DeviceCopy, QuantizedWeight } from "./quantized_weight.ts";

/** Output rows per thread (each W value read is used this many times). */
const ROWS = 4;
/** Threads per workgroup, one output column each. */
const WORKGROUP = 64;
/** WebGPU's guaranteed limit on workgroups per dispatch dimension. */
const MAX_WORKGROUPS = 65535;

/** The parts of tfjs-backend-webgpu's backend this kernel calls (duck-typed: no import). */
interface WebGpuBackendLike {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Int32Array | Float32Array): {
    dataId: object;
    shape: number[];
    dtype: tf.DataType;
  };
  disposeData(dataId: object, force?: boolean): boolean;
  runWebGPUProgram(
    program: QuantizedLinearProgram,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
  ): tf.TensorInfo;
}

/** A weight's packed rows (and int8 scales) in GPU buffers owned by the backend. */
interface UploadedWeight extends DeviceCopy {
  /** int32 [N, words per row]: the packed rows. */
  words: tf.TensorInfo;
  /** float32 [N] for int8, null for float16. */
  scales: tf.TensorInfo | null;
}

/** Values of one row that fit a 32-bit word in `layout`. */
function perWord(weight: QuantizedWeight): number {
  return weight.layout === "int8" ? 4 : 2;
}

/**
 * W's rows packed into 32-bit words, each row starting on a word (zero padding at a row's end
 * when K is not a multiple of the values per word). A view of the weight's own bytes when no
 * padding is needed, else a packed copy.
 * @param weight the quantized matrix [N, K]
 * @returns N * ceil(K / per word) words
 */
export function packedRows(weight: QuantizedWeight): Int32Array {
  const [n, k] = weight.shape;
  const per = perWord(weight);
  const words = Math.ceil(k / per);
  const bytes = weight.data;
  if (k % per === 0 && bytes.byteOffset % 4 === 0) {
    return new Int32Array(bytes.buffer, bytes.byteOffset, n * words);
  }
  const out = new Int32Array(n * words);
  const from = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const to = new Uint8Array(out.buffer);
  const rowBytes = k * (4 / per); // int8: K bytes; float16: 2K bytes
  for (let r = 0; r < n; r++) {
    to.set(from.subarray(r * rowBytes, (r + 1) * rowBytes), r * words * 4);
  }
  return out;
}

/** Uploads `weight` to `backend` (once: the copy stays on the weight). */
function uploaded(backend: WebGpuBackendLike, weight: QuantizedWeight): UploadedWeight {
  return weight.deviceCopy(backend, () => {
    const [n, k] = weight.shape;
    const words = backend.makeTensorInfo(
      [n, Math.ceil(k / perWord(weight))],
      "int32",
      packedRows(weight),
    );
    const scales = weight.scales === null
      ? null
      : backend.makeTensorInfo([n], "float32", weight.scales);
    return {
      words,
      scales,
      release(): void {
        backend.disposeData(words.dataId, true);
        if (scales !== null) backend.disposeData(scales.dataId, true);
      },
    };
  });
}

/** WGSL: `weights4(col, g)`, values 4g..4g+3 of W's row `col`, and `weight1(col, c)`, value c. */
function weightReaders(layout: QuantizedWeight["layout"]): string {
  const word = "bitcast<u32>(w[col * uniforms.wShape.y + index])";
  if (layout === "float16") {
    return `
  fn weights4(col : i32, g : i32) -> vec4<f32> {
    let base = col * uniforms.wShape.y + 2 * g;
    return vec4<f32>(
      unpack2x16float(bitcast<u32>(w[base])), unpack2x16float(bitcast<u32>(w[base + 1])));
  }
  fn weight1(col : i32, c : i32) -> f32 {
    let index = c / 2;
    let pair = unpack2x16float(${word});
    return select(pair.x, pair.y, c % 2 == 1);
  }`;
  }
  // A byte moved to the top of the word, then shifted back down arithmetically: its sign.
  return `
  fn weights4(col : i32, g : i32) -> vec4<f32> {
    let index = g;
    let packed = ${word};
    return vec4<f32>(vec4<i32>(
      bitcast<i32>(packed << 24u), bitcast<i32>(packed << 16u),
      bitcast<i32>(packed << 8u), bitcast<i32>(packed)) >> vec4<u32>(24u));
  }
  fn weight1(col : i32, c : i32) -> f32 {
    let index = c / 4;
    let shift = u32(24 - 8 * (c % 4));
    return f32(bitcast<i32>(${word} << shift) >> 24u);
  }`;
}

/** The tfjs-backend-webgpu program: `x @ Wᵀ (* scales) + bias` for a packed quantized W. */
export class QuantizedLinearProgram {
  /** Inputs, in binding order. */
  readonly variableNames: string[];
  /** [M, N]. */
  readonly outputShape: number[];
  /** Workgroups: x over output columns, y over blocks of output rows. */
  readonly dispatchLayout: { x: number[]; y: number[] } = { x: [1], y: [0] };
  /** Workgroups per dimension. */
  dispatch: [number, number, number];
  /** Threads per workgroup. */
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  /** Names the compiled pipeline (tfjs adds the input shapes' ranks and dtypes). */
  shaderKey: string;
  readonly #layout: QuantizedWeight["layout"];
  readonly #bias: boolean;

  /**
   * @param m rows of x
   * @param n output columns (rows of W)
   * @param layout how W is packed
   * @param bias whether a bias input follows
   */
  constructor(m: number, n: number, layout: QuantizedWeight["layout"], bias: boolean) {
    this.outputShape = [m, n];
    this.dispatch = [Math.ceil(n / WORKGROUP), Math.ceil(m / ROWS), 1];
    this.#layout = layout;
    this.#bias = bias;
    this.variableNames = [
      "x",
      "w",
      ...(layout === "int8" ? ["scales"] : []),
      ...(bias ? ["bias"] : []),
    ];
    this.shaderKey = `dprQuantizedLinear_${layout}_${bias}`;
  }

  /** The shader's body (tfjs prepends the bindings, uniforms and helpers). */
  getUserCode(): string {
    const scale = this.#layout === "int8" ? " * scales[col]" : "";
    const bias = this.#bias ? " + bias[col]" : "";
    return `${weightReaders(this.#layout)}
  fn x4(row : i32, c : i32) -> vec4<f32> {
    let at = row * uniforms.xShape.y + c;
    return vec4<f32>(x[at], x[at + 1], x[at + 2], x[at + 3]);
  }

  fn main() {
    let rows = uniforms.xShape.x;
    let depth = uniforms.xShape.y;
    let cols = uniforms.outShape.y;
    let col = i32(globalId.x);
    let row0 = i32(globalId.y) * ${ROWS};
    if (col >= cols || row0 >= rows) {
      return;
    }
    // Rows past the end read the last row again (in bounds) and are not written.
    let r = vec4<i32>(row0, min(row0 + 1, rows - 1), min(row0 + 2, rows - 1),
      min(row0 + 3, rows - 1));
    // acc[t]: output row r[t], column col.
    var acc = vec4<f32>(0.0);
    let groups = depth / 4;
    for (var g = 0; g < groups; g = g + 1) {
      let wv = weights4(col, g);
      acc = acc + vec4<f32>(dot(x4(r.x, 4 * g), wv), dot(x4(r.y, 4 * g), wv),
        dot(x4(r.z, 4 * g), wv), dot(x4(r.w, 4 * g), wv));
    }
    for (var c = 4 * groups; c < depth; c = c + 1) {
      let wc = weight1(col, c);
      acc = acc + wc * vec4<f32>(x[r.x * depth + c], x[r.y * depth + c], x[r.z * depth + c],
        x[r.w * depth + c]);
    }
    for (var t = 0; t < ${ROWS}; t = t + 1) {
      if (row0 + t < rows) {
        result[(row0 + t) * cols + col] = acc[t]${scale}${bias};
      }
    }
  }
`;
  }
}

/** Whether the shader takes a product of these sizes (the others run the composite form). */
export function webGpuQuantizedSupports({ m, k, n }: { m: number; k: number; n: number }): boolean {
  return k > 0 && n > 0 && Math.ceil(m / ROWS) <= MAX_WORKGROUPS &&
    Math.ceil(n / WORKGROUP) <= MAX_WORKGROUPS;
}

/** The kernel function registered for "webgpu". */
export const webGpuQuantizedLinear: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, bias } = inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
  const weight = (attrs as unknown as { weight: QuantizedWeight }).weight;
  const gpu = backend as unknown as WebGpuBackendLike;
  const copy = uploaded(gpu, weight);
  const program = new QuantizedLinearProgram(
    x.shape[0]!,
    weight.shape[0],
    weight.layout,
    bias !== undefined,
  );
  const programInputs = [x, copy.words];
  if (copy.scales !== null) programInputs.push(copy.scales);
  if (bias !== undefined) programInputs.push(bias);
  return gpu.runWebGPUProgram(program, programInputs, "float32");
};

registerQuantizedLinear("webgpu", webGpuQuantizedLinear, webGpuQuantizedSupports);
