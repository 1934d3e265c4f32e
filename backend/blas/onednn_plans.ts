/**
 * oneDNN primitives built per shape and kept in small least-recently-used caches: matmuls with
 * their epilogue (bias, activation, residual), in-place LayerNorms and row softmaxes.
 * @module
 */
import { LruCache } from "./lru_cache.ts";
import {
  ACTIVATIONS,
  BINARY_ADD,
  check,
  F32,
  FORWARD_INFERENCE,
  handle,
  LAYER_NORM_DESC_BYTES,
  MATMUL_DESC_BYTES,
  MEMORY_DESC_BYTES,
  type OneDnnActivation,
  type Ptr,
  SOFTMAX_DESC_BYTES,
  Status,
  USE_SCALE_AND_SHIFT,
} from "./onednn_ffi.ts";
import type { Desc, OneDnnLibrary } from "./onednn_library.ts";

const CACHE_SIZE = 48;

/** A matmul primitive for one shape, with its memory objects. */
export interface Plan {
  /** The primitive. */
  primitive: Ptr;
  /** Source memory. */
  src: Ptr;
  /** Weights memory. */
  weights: Ptr;
  /** Bias memory, or null. */
  bias: Ptr;
  /** Residual memory, or null. */
  residual: Ptr;
  /** Destination memory. */
  dst: Ptr;
}

/** A LayerNorm primitive over rows of one width, with its memory objects. */
export interface NormPlan {
  /** The primitive. */
  primitive: Ptr;
  /** Data memory (in place). */
  data: Ptr;
  /** Scale memory. */
  scale: Ptr;
  /** Shift memory. */
  shift: Ptr;
}

/** A softmax primitive over rows of one shape, with its memory object. */
export interface SoftmaxPlan {
  /** The primitive. */
  primitive: Ptr;
  /** Data memory (in place). */
  data: Ptr;
}

/** What a primitive computes besides the product. */
export interface Epilogue {
  /** 1 adds the product to the destination. */
  beta: 0 | 1;
  /** A `[n]` bias is added. */
  bias: boolean;
  /** An `[m, n]` matrix added after the bias (a skip connection). */
  residual: boolean;
  /** The activation applied last, or null. */
  activation: OneDnnActivation | null;
}

/** The primitives of one library, by shape. */
export class OneDnnPlans {
  readonly #dnn: OneDnnLibrary;
  /** Shape key -> primitive, or null when oneDNN could not build it. Map order is LRU order. */
  readonly #plans = new LruCache<Plan>(CACHE_SIZE, (plan) => this.#free(plan));
  /** `rows,cols` -> softmax primitive with its memory, or null when oneDNN could not build it. */
  readonly #softmaxes = new LruCache<SoftmaxPlan>(CACHE_SIZE, (plan) => this.#freeSoftmax(plan));
  /** `m,n,eps` -> LayerNorm primitive, or null when oneDNN could not build it. */
  readonly #norms = new LruCache<NormPlan>(CACHE_SIZE, (plan) => this.#freeNorm(plan));

  /**
   * Plans on `dnn`.
   * @param dnn the library
   */
  constructor(dnn: OneDnnLibrary) {
    this.#dnn = dnn;
  }

  /**
   * The matmul primitive of a shape, built once; null when oneDNN cannot build it.
   * @param weights the packed weights' descriptor, or null for plain weights
   */
  matmul(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    epilogue: Epilogue,
    weights: Desc | null,
  ): Plan | null {
    const key = `${m},${n},${k},${transB ? 1 : 0},${epilogue.beta},${epilogue.bias ? 1 : 0},` +
      `${epilogue.residual ? 1 : 0},` +
      `${epilogue.activation ?? ""},${weights ? "packed" : "plain"}`;
    return this.#plans.get(key, () => this.#build(transB, m, n, k, epilogue, weights));
  }

  /** Builds the primitive for one shape; returns null when oneDNN cannot. */
  #build(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    epilogue: Epilogue,
    packedWeights: Desc | null,
  ): Plan | null {
    const s = this.#dnn.lib.symbols;
    let attr: Ptr = null, postOps: Ptr = null;
    try {
      const src = this.#dnn.desc(m, k, k, 1);
      const weights = packedWeights ?? this.#dnn.weightsDesc(k, n, transB);
      const dst = this.#dnn.desc(m, n, n, 1);
      const bias = epilogue.bias ? this.#dnn.desc(1, n, n, 1) : null;
      const op = new Uint8Array(MATMUL_DESC_BYTES);
      check(s.dnnl_matmul_desc_init(op, src, weights, bias, dst), "matmul descriptor");
      const residual = epilogue.residual ? this.#dnn.desc(m, n, n, 1) : null;
      if (epilogue.beta === 1 || epilogue.activation !== null || residual !== null) {
        check(s.dnnl_primitive_attr_create(this.#dnn.out), "attribute creation");
        attr = handle(this.#dnn.out);
        check(s.dnnl_post_ops_create(this.#dnn.out), "post-op creation");
        postOps = handle(this.#dnn.out);
        if (epilogue.beta === 1) check(s.dnnl_post_ops_append_sum(postOps, 1), "sum post-op");
        if (residual !== null) {
          if (epilogue.beta === 1) throw new Status("a residual after a sum is not supported");
          check(s.dnnl_post_ops_append_binary(postOps, BINARY_ADD, residual), "add post-op");
        }
        if (epilogue.activation !== null) {
          const [alg, alpha, beta] = ACTIVATIONS[epilogue.activation];
          check(s.dnnl_post_ops_append_eltwise(postOps, 1, alg, alpha, beta), "eltwise post-op");
        }
        check(s.dnnl_primitive_attr_set_post_ops(attr, postOps), "post-op attribute");
      }
      const plan: Plan = {
        primitive: this.#dnn.primitive(op, attr),
        src: null,
        weights: null,
        bias: null,
        residual: null,
        dst: null,
      };
      try {
        plan.src = this.#dnn.memory(src);
        plan.weights = this.#dnn.memory(weights);
        if (bias !== null) plan.bias = this.#dnn.memory(bias);
        if (residual !== null) plan.residual = this.#dnn.memory(residual);
        plan.dst = this.#dnn.memory(dst);
      } catch (err) {
        this.#free(plan);
        throw err;
      }
      return plan;
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    } finally {
      if (postOps !== null) s.dnnl_post_ops_destroy(postOps);
      if (attr !== null) s.dnnl_primitive_attr_destroy(attr);
    }
  }

  #free(plan: Plan): void {
    const s = this.#dnn.lib.symbols;
    for (const mem of [plan.src, plan.weights, plan.bias, plan.residual, plan.dst]) {
      if (mem !== null) s.dnnl_memory_destroy(mem);
    }
    s.dnnl_primitive_destroy(plan.primitive);
  }

  /** The in-place LayerNorm over `[m, n]` rows; null when oneDNN cannot build it. */
  norm(m: number, n: number, eps: number): NormPlan | null {
    return this.#norms.get(`${m},${n},${eps}`, () => this.#buildNorm(m, n, eps));
  }

  #buildNorm(m: number, n: number, eps: number): NormPlan | null {
    const s = this.#dnn.lib.symbols;
    try {
      const data = this.#dnn.desc(m, n, n, 1);
      // oneDNN wants the scale and shift as 1-D tensors of n values.
      const flat = new Uint8Array(MEMORY_DESC_BYTES);
      check(
        s.dnnl_memory_desc_init_by_strides(
          flat,
          1,
          new BigInt64Array([BigInt(n)]),
          F32,
          new BigInt64Array([1n]),
        ),
        "memory descriptor",
      );
      const op = new Uint8Array(LAYER_NORM_DESC_BYTES);
      check(
        s.dnnl_layer_normalization_forward_desc_init(
          op,
          FORWARD_INFERENCE,
          data,
          null,
          eps,
          USE_SCALE_AND_SHIFT,
        ),
        "layer normalization descriptor",
      );
      const plan: NormPlan = {
        primitive: this.#dnn.primitive(op, null),
        data: null,
        scale: null,
        shift: null,
      };
      try {
        plan.data = this.#dnn.memory(data);
        plan.scale = this.#dnn.memory(flat);
        plan.shift = this.#dnn.memory(flat);
      } catch (err) {
        this.#freeNorm(plan);
        throw err;
      }
      return plan;
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    }
  }

  #freeNorm(plan: NormPlan): void {
    const s = this.#dnn.lib.symbols;
    for (const mem of [plan.data, plan.scale, plan.shift]) {
      if (mem !== null) s.dnnl_memory_destroy(mem);
    }
    s.dnnl_primitive_destroy(plan.primitive);
  }

  /** The in-place softmax over `[rows, cols]`; null when oneDNN cannot build it. */
  softmax(rows: number, cols: number): SoftmaxPlan | null {
    return this.#softmaxes.get(`${rows},${cols}`, () => this.#buildSoftmax(rows, cols));
  }

  #buildSoftmax(rows: number, cols: number): SoftmaxPlan | null {
    try {
      const md = this.#dnn.desc(rows, cols, cols, 1);
      const op = new Uint8Array(SOFTMAX_DESC_BYTES);
      check(
        this.#dnn.lib.symbols.dnnl_softmax_forward_desc_init(op, FORWARD_INFERENCE, md, 1),
        "softmax descriptor",
      );
      return { primitive: this.#dnn.primitive(op, null), data: this.#dnn.memory(md) };
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    }
  }

  #freeSoftmax(plan: SoftmaxPlan): void {
    this.#dnn.lib.symbols.dnnl_memory_destroy(plan.data);
    this.#dnn.lib.symbols.dnnl_primitive_destroy(plan.primitive);
  }

  /** Frees every primitive. */
  clear(): void {
    this.#plans.clear();
    this.#norms.clear();
    this.#softmaxes.clear();
  }
}
