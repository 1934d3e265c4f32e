/**
 * What the wasm backend registers behind the named ops of `backend/ops/` (imported for its
 * effect by `set_backend.ts`): the kernels of `gatherRows`, GELU, LayerNorm and fused attention,
 * tensors filled in place in the heap (`heap_fill.ts`), and per-head attention as its preference
 * where attention runs as separate ops (when its probabilities are asked for). tfjs-backend-wasm
 * runs 2-D matmuls on XNNPACK but batched or transposed ones on a naive loop about ten times
 * slower per flop, so one pair of 2-D products per sequence and head wins there despite the extra
 * kernel calls.
 * @module
 */
import { preferAttentionImplementation } from "../ops/attention_implementation.ts";
import "./gather_rows.ts";
import "./heap_fill.ts";
import "./fused_kernels.ts";

preferAttentionImplementation("wasm", "per-head");
