/**
 * Checkpoints of the original facebookresearch/DPR code: `torch.save` of a `CheckpointState`
 * (saved as a dict, or as the namedtuple itself) whose `model_dict` holds a bi-encoder
 * (`question_model.*`, `ctx_model.*`) or a reader (`encoder.*`, `qa_outputs.*`,
 * `qa_classifier.*`). This module renames those weights to Hugging Face's names, so the rest of the
 * project only ever sees one naming scheme.
 * @module
 */
import { ARCHITECTURE_PREFIXES } from "./checkpoint_keys.ts";
import type { ByteReader } from "./byte_reader.ts";
import { PickleRecord } from "./pickle.ts";
import { collectStateDict, openPytorchCheckpoint } from "./pytorch_pickle.ts";
import type { StateDict } from "./state_dict.ts";

/** Which DPR component an original checkpoint holds. */
export type DprOriginalKind = "biencoder" | "reader";

/** An original DPR checkpoint with its weights renamed to Hugging Face's names. */
export interface DprOriginalCheckpoint {
  /** "biencoder" (question and context encoders) or "reader". */
  kind: DprOriginalKind;
  /**
   * Weights under `question_encoder.*` and `ctx_encoder.*` (bi-encoder) or `span_predictor.*`
   * (reader).
   */
  stateDict: StateDict;
  /** The checkpoint's `encoder_params` when it has them (e.g. `pretrained_model_cfg`). */
  encoderParams: Record<string, unknown>;
}

/**
 * Tells which kind of original DPR state dict the names belong to, or `null` when they look like
 * Hugging Face names (or anything else).
 * @param names the state dict's keys
 * @returns the kind, or null
 */
export function detectDprOriginalKind(names: Iterable<string>): DprOriginalKind | null {
  let bi = false;
  let reader = false;
  for (const name of names) {
    if (name.startsWith("question_model.") || name.startsWith("ctx_model.")) bi = true;
    if (name.startsWith("qa_outputs.") || name.startsWith("qa_classifier.")) reader = true;
  }
  return reader ? "reader" : bi ? "biencoder" : null;
}

/**
 * Maps one original DPR weight name to Hugging Face's, following the layout of transformers'
 * DPR models: the BERT of each encoder sits under `bert_model`, the projection beside it.
 * @param name the original name, e.g. `question_model.encoder.layer.0.output.dense.weight`
 * @param kind the checkpoint's kind
 * @returns the Hugging Face name, or `null` for a name outside the model (skipped)
 */
export function dprOriginalToHfName(name: string, kind: DprOriginalKind): string | null {
  if (kind === "biencoder") {
    for (
      const [from, to] of [["question_model.", "question_encoder."], ["ctx_model.", "ctx_encoder."]]
    ) {
      if (!name.startsWith(from!)) continue;
      const rest = name.slice(from!.length);
      return rest.startsWith("encode_proj.") ? `${to}${rest}` : `${to}bert_model.${rest}`;
    }
    return null;
  }
  if (name.startsWith("encoder.")) {
    const rest = name.slice("encoder.".length);
    return rest.startsWith("encode_proj.")
      ? `span_predictor.encoder.${rest}`
      : `span_predictor.encoder.bert_model.${rest}`;
  }
  if (name.startsWith("qa_outputs.") || name.startsWith("qa_classifier.")) {
    return `span_predictor.${name}`;
  }
  return null;
}

/**
 * Renames an original DPR state dict to Hugging Face's names.
 * @param stateDict the original `model_dict`
 * @param kind which component it holds; detected from the names when omitted
 * @returns the renamed state dict (tensors are shared, not copied)
 */
export function dprOriginalToHf(stateDict: StateDict, kind?: DprOriginalKind): StateDict {
  const resolved = kind ?? detectDprOriginalKind(stateDict.keys());
  if (resolved === null) {
    throw new TypeError(
      "Cannot convert an original DPR state dict: no question_model.*, ctx_model.*, " +
        "qa_outputs.* or qa_classifier.* weights found",
    );
  }
  const out: StateDict = new Map();
  const skipped: string[] = [];
  for (const [name, tensor] of stateDict) {
    const mapped = dprOriginalToHfName(name, resolved);
    if (mapped === null) skipped.push(name);
    else out.set(mapped, tensor);
  }
  if (skipped.length > 0) {
    throw new TypeError(
      `Cannot convert an original DPR ${resolved} state dict: unexpected weights ${
        skipped.slice(0, 10).join(", ")
      }${skipped.length > 10 ? ` and ${skipped.length - 10} more` : ""}`,
    );
  }
  return out;
}

/**
 * Reads an original DPR checkpoint (torch zip format). Only `model_dict` tensors are decoded;
 * optimizer and scheduler state are skipped.
 * @param input the file's bytes or a reader over it
 * @param description names the file in error messages
 * @returns the kind and the renamed weights
 */
export async function readDprOriginalCheckpoint(
  input: Uint8Array | ByteReader,
  description = "DPR checkpoint",
): Promise<DprOriginalCheckpoint> {
  const checkpoint = await openPytorchCheckpoint(input, description);
  const root = checkpoint.root;
  const fields: Map<unknown, unknown> | Record<string, unknown> | null = root instanceof Map
    ? root
    : root instanceof PickleRecord
    ? root.fields
    : null;
  const get = (key: string): unknown =>
    fields instanceof Map ? fields.get(key) : fields === null ? undefined : fields[key];
  const modelDict = get("model_dict");
  if (!(modelDict instanceof Map)) {
    throw new TypeError(
      `Cannot read ${description} as an original DPR checkpoint: it has no model_dict`,
    );
  }
  const original = await collectStateDict(checkpoint, modelDict, { description });
  const kind = detectDprOriginalKind(original.keys());
  if (kind === null) {
    throw new TypeError(
      `Cannot read ${description} as an original DPR checkpoint: model_dict holds none of ` +
        `question_model.*, ctx_model.*, qa_outputs.*, qa_classifier.*`,
    );
  }
  const params = get("encoder_params");
  const encoderParams: Record<string, unknown> = {};
  if (params instanceof Map) {
    for (const [k, v] of params) if (typeof k === "string") encoderParams[k] = v;
  }
  return { kind, stateDict: dprOriginalToHf(original, kind), encoderParams };
}

/**
 * Keeps the weights of one encoder of a converted bi-encoder.
 * @param stateDict Hugging Face names from {@linkcode dprOriginalToHf}
 * @param which "question" or "ctx"
 * @returns the weights under `question_encoder.*` or `ctx_encoder.*`
 */
export function selectEncoder(stateDict: StateDict, which: "question" | "ctx"): StateDict {
  const prefix =
    ARCHITECTURE_PREFIXES[which === "question" ? "DPRQuestionEncoder" : "DPRContextEncoder"];
  return new Map([...stateDict].filter(([name]) => name.startsWith(prefix)));
}

/**
 * Builds a `config.json` for a DPR model from its weights' shapes (original checkpoints carry no
 * config): sizes come from the embeddings and the first layer, heads default to hidden / 64 as in
 * every BERT release, and everything else takes BERT's defaults.
 * @param stateDict Hugging Face-named weights of one model
 * @param architecture "DPRQuestionEncoder", "DPRContextEncoder" or "DPRReader"
 * @returns the config object
 */
export function inferDprConfig(
  stateDict: StateDict,
  architecture: "DPRQuestionEncoder" | "DPRContextEncoder" | "DPRReader",
): Record<string, unknown> {
  const find = (suffix: string): number[] => {
    for (const [name, tensor] of stateDict) if (name.endsWith(suffix)) return tensor.shape;
    throw new TypeError(`Cannot infer a DPR config: no weight named *${suffix}`);
  };
  const [vocabSize, hiddenSize] = find("embeddings.word_embeddings.weight");
  let layers = 0;
  for (const name of stateDict.keys()) {
    const match = /\.encoder\.layer\.(\d+)\./.exec(name);
    if (match) layers = Math.max(layers, Number(match[1]) + 1);
  }
  let projectionDim = 0;
  for (const [name, tensor] of stateDict) {
    if (name.endsWith("encode_proj.weight")) projectionDim = tensor.shape[0]!;
  }
  return {
    architectures: [architecture],
    model_type: "dpr",
    vocab_size: vocabSize,
    hidden_size: hiddenSize,
    num_hidden_layers: layers,
    num_attention_heads: Math.max(1, Math.round(hiddenSize! / 64)),
    intermediate_size: find("layer.0.intermediate.dense.weight")[0],
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: find("embeddings.position_embeddings.weight")[0],
    type_vocab_size: find("embeddings.token_type_embeddings.weight")[0],
    initializer_range: 0.02,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    position_embedding_type: "absolute",
    projection_dim: projectionDim,
  };
}
