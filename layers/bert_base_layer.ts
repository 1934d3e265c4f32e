/**
 * The base of the BERT custom layers: explicit, stable weight names, seeded initialisation, and the
 * per-call context (training flag, dropout seeds) the eager forward passes share.
 * @module
 */
import { tf, tfl } from "../backend/tf.ts";
import type { AttentionImplementation } from "../backend/ops/attention_implementation.ts";
export { gatherRows } from "../backend/ops/gather_rows.ts";
import { type DenseWeight, linearWith, placeholderTensor } from "./held_weight.ts";

/** Fields every BERT layer accepts. */
export interface BertBaseLayerArgs {
  /** Layer name; also the prefix of its weights' names, so keep it stable for saving. */
  name?: string;
  /** Whether the weights are trainable. Default true. */
  trainable?: boolean;
  /** Standard deviation of the normal initialisation of matrices. Default 0.02. */
  initializerRange?: number;
  /** Seed of the random initialisation (each weight derives its own from its name). Default 0. */
  seed?: number;
  /** Start every weight at zero (fast; for weights about to be loaded). Default false. */
  zeroInit?: boolean;
  /**
   * Create every weight without values (a one-element placeholder as its data) for a loader that
   * writes each weight's final values, or its quantized form, one at a time: the model is never
   * held as zeros. Using such a weight before it is written gives wrong values. Default false.
   */
  placeholders?: boolean;
}

/**
 * State shared by one forward pass: whether dropout is on, where its seeds come from, and how
 * attention is computed.
 */
export interface ForwardContext {
  /** Apply dropout. */
  training: boolean;
  /** Base seed for dropout masks; `undefined` draws fresh randomness. */
  seed?: number;
  /** How many dropout masks were drawn so far (each gets `seed + counter`). */
  counter: number;
  /** How attention is computed (the model's `attention` option); default: the process default. */
  attention?: AttentionImplementation;
}

/** A context for inference: no dropout. */
export function evalContext(): ForwardContext {
  return { training: false, counter: 0 };
}

/**
 * Dropout as `torch.nn.Dropout`: identity unless training; in training zeroes with probability
 * `rate` and scales the rest by `1 / (1 - rate)`.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate === 0) return x;
  const seed = ctx.seed === undefined ? undefined : ctx.seed + ctx.counter;
  ctx.counter++;
  return tf.dropout(x, rate, undefined, seed) as T;
}

/**
 * `x @ kernel + bias` with `x` [N, in], `kernel` [in, out] (pre-transposed) or a quantized kernel
 * ([out, in], from {@linkcode readDense}), `bias` [out].
 */
export function linear(x: tf.Tensor2D, kernel: DenseWeight, bias: tf.Tensor): tf.Tensor2D {
  return linearWith(x, kernel, bias);
}

/**
 * The shape of a layer's first input: `inputShape` itself for one input, its first entry for a
 * list of inputs.
 */
export function firstInputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
}

/** 32-bit FNV-1a hash, used to derive one seed per weight from the base seed and its name. */
function hashSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const text = `${seed}:${name}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // tfjs treats a seed of 0 as "no seed".
  return (h >>> 0) || 1;
}

/** The initialisations transformers' `_init_weights` gives BERT parameters. */
export type WeightInit = "normal" | "zeros" | "ones";

/**
 * Base class of the BERT layers. Leaf layers create their weights with {@linkcode addParam};
 * composite layers hold sublayers and report their weights.
 */
export abstract class BertBaseLayer extends tfl.layers.Layer {
  /** Standard deviation of the normal initialisation. */
  readonly initializerRange: number;
  /** Base seed of the initialisation. */
  readonly seed: number;
  /** Whether weights start at zero instead of their random / ones initialisation. */
  readonly zeroInit: boolean;
  /** Whether weights are created without values, for a loader to write (see the arguments). */
  readonly placeholders: boolean;
  /** Constructor arguments, for `getConfig`. */
  abstract readonly args: BertBaseLayerArgs;

  /** Stores the shared arguments; subclasses add their own. */
  constructor(args: BertBaseLayerArgs) {
    super({ name: args.name, trainable: args.trainable });
    this.initializerRange = args.initializerRange ?? 0.02;
    this.seed = args.seed ?? 0;
    this.zeroInit = args.zeroInit ?? false;
    this.placeholders = args.placeholders ?? false;
  }

  /**
   * Adds a weight named `<layer name>/<localName>`. The name is set explicitly (not by tfjs's
   * name scopes, which differ between building eagerly and inside a model), so a saved model
   * reloads onto the same names.
   */
  protected addParam(localName: string, shape: number[], init: WeightInit): tfl.LayerVariable {
    const fullName = `${this.name}/${localName}`;
    const initializer = this.placeholders
      ? { apply: (shape: number[]) => placeholderTensor(shape) } as unknown as ReturnType<
        typeof tfl.initializers.zeros
      >
      : init === "zeros" || this.zeroInit
      ? tfl.initializers.zeros()
      : init === "ones"
      ? tfl.initializers.ones()
      : tfl.initializers.randomNormal({
        mean: 0,
        stddev: this.initializerRange,
        seed: hashSeed(this.seed, fullName),
      });
    const weight = this.addWeight(localName, shape, "float32", initializer);
    (weight as { originalName: string }).originalName = fullName;
    return weight;
  }

  /** Config fields shared by all BERT layers. */
  protected baseConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), initializerRange: this.initializerRange, seed: this.seed };
  }

  /**
   * The config of a layer built from `args`: {@linkcode baseConfig} plus every constructor
   * argument but `name` and `trainable` (tfjs's own config already holds those).
   */
  protected argsConfig(args: BertBaseLayerArgs): tf.serialization.ConfigDict {
    const { name: _name, trainable: _trainable, placeholders: _placeholders, ...rest } = args;
    return { ...this.baseConfig(), ...rest };
  }

  /** The output shape for an input shape (used on symbolic tensors): the first input's shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return firstInputShape(inputShape);
  }

  /** The constructor arguments, for tfjs serialization. */
  override getConfig(): tf.serialization.ConfigDict {
    return this.argsConfig(this.args);
  }

  /** Arguments every sublayer inherits from this one. */
  protected sharedArgs(): BertBaseLayerArgs {
    return {
      initializerRange: this.initializerRange,
      seed: this.seed,
      zeroInit: this.zeroInit,
      placeholders: this.placeholders,
    };
  }
}

/** A layer that owns sublayers and reports their weights as its own. */
export abstract class BertCompositeLayer extends BertBaseLayer {
  /** The sublayers, in weight order. */
  protected abstract sublayers(): tfl.layers.Layer[];

  /** The sublayers' trainable weights. */
  override get trainableWeights(): tfl.LayerVariable[] {
    if (!this.trainable) return [];
    return this.sublayers().flatMap((layer) => layer.trainableWeights);
  }

  /** Not supported: the weights belong to the sublayers. */
  override set trainableWeights(_weights: tfl.LayerVariable[]) {
    throw new Error(`Cannot set the weights of ${this.name}: they belong to its sublayers`);
  }

  /** The sublayers' non-trainable weights (all of them when this layer is frozen). */
  override get nonTrainableWeights(): tfl.LayerVariable[] {
    const inner = this.sublayers().flatMap((layer) => layer.nonTrainableWeights);
    return this.trainable ? inner : this.sublayers().flatMap((layer) => layer.weights);
  }

  /** Not supported: the weights belong to the sublayers. */
  override set nonTrainableWeights(_weights: tfl.LayerVariable[]) {
    throw new Error(`Cannot set the weights of ${this.name}: they belong to its sublayers`);
  }

  /** Builds every sublayer that is not built yet. */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    for (const layer of this.sublayers()) {
      if (!layer.built) layer.build(inputShape);
    }
    this.built = true;
  }
}
