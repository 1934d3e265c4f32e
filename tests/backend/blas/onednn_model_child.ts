// Child process for onednn_model_test.ts: a mid-sized random DPR context encoder (big enough for
// its products to take the oneDNN path) run on cpu, then three times on "blas" under the
// environment the test chose (DPR_BLAS_PREPACK); prints one JSON line with the largest relative
// difference, whether oneDNN ran, how many kernels the layers hold packed, and the packed bytes
// before and after disposing the model.
import { tf } from "../../../backend/tf.ts";
import {
  blasLibrary,
  registerBlasBackend,
  setBlasPrepack,
} from "../../../backend/blas/register.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { DPRConfig } from "../../../models/config.ts";
import { DPRContextEncoder } from "../../../models/dpr_context_encoder.ts";
import { heldPacked, plainWeight } from "../../../layers/held_weight.ts";

await registerBlasBackend();
await tf.setBackend("cpu");
const config = new DPRConfig({
  vocabSize: 1000,
  hiddenSize: 256,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 1024,
  maxPositionEmbeddings: 64,
});
const model = new DPRContextEncoder(config, { seed: 3 });
const B = 4, T = 64;
const inputIds = Array.from(
  { length: B },
  (_, b) =>
    Array.from({ length: T }, (_, t) => (b === 1 && t >= 40 ? 0 : 1 + ((b * 131 + t * 17) % 999))),
);
const attentionMask = inputIds.map((row) => row.map((id) => (id === 0 ? 0 : 1)));
const encode = (): Float32Array => {
  const { poolerOutput } = model.forward({ inputIds, attentionMask });
  const values = poolerOutput.dataSync() as Float32Array;
  poolerOutput.dispose();
  return values;
};
const want = encode();
// Every weight's values as they were, to compare with what reading them gives later.
const weightsBefore = model.weights.map((w) => (w.read().dataSync() as Float32Array).slice());
// CHILD_SET_BACKEND=1: turn packing on through setBackend's option instead of the environment.
const viaOption = Deno.env.get("CHILD_SET_BACKEND") === "1";
const chosen = viaOption
  ? await setBackend("blas", { blasPrepack: true })
  : await setBackend("blas");
let maxRel = 0;
for (let run = 0; run < 3; run++) {
  const got = encode();
  let scale = 1e-6;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    maxRel = Math.max(maxRel, Math.abs(got[i]! - want[i]!) / scale);
  }
}
const lib = blasLibrary()!;
const packed = lib.packedBytes();
// Kernels the layers hold packed (in place of their variables' plain values).
const packedKernels = (): number => model.weights.filter((w) => heldPacked(w) !== undefined).length;
const inPlace = packedKernels();
const heldBytes = model.weights.reduce((sum, w) => sum + (heldPacked(w)?.bytes ?? 0), 0);
// Reading a weight back (plainWeight, as stateDict does) gives its plain values, bit for bit.
const readBack = model.weights.every((w, i) => {
  const now = tf.tidy(() => plainWeight(w).dataSync() as Float32Array);
  const before = weightsBefore[i]!;
  return now.length === before.length && now.every((v, j) => Object.is(v, before[j]));
});
// Any op on a packed kernel read back sees its plain matrix.
const kernel = model.weights.find((w) => heldPacked(w) !== undefined);
const sumOk = kernel === undefined ||
  Math.abs(
      tf.tidy(() => tf.sum(plainWeight(kernel)).dataSync()[0]!) -
        weightsBefore[model.weights.indexOf(kernel)]!.reduce((a, b) => a + b, 0),
    ) < 1e-2;
let packedAfterOff: number | null = null;
let inPlaceAfterOff: number | null = null;
let maxRelAfterOff: number | null = null;
if (viaOption) {
  // Off: every layer puts its plain matrix back on its next use.
  setBlasPrepack(false);
  const got = encode();
  packedAfterOff = lib.packedBytes();
  inPlaceAfterOff = packedKernels();
  maxRelAfterOff = 0;
  for (let i = 0; i < want.length; i++) {
    maxRelAfterOff = Math.max(maxRelAfterOff, Math.abs(got[i]! - want[i]!));
  }
}
model.dispose();
console.log(JSON.stringify({
  oneDnn: lib.oneDnn ?? null,
  maxRel,
  packed,
  heldBytes,
  inPlace,
  readBack,
  sumOk,
  packedAfterOff,
  inPlaceAfterOff,
  maxRelAfterOff,
  packedAfterDispose: lib.packedBytes(),
  reason: chosen.reason,
  weightBytes: 4 * 2 * (256 * 768 + 256 * 256 + 2 * 256 * 1024),
}));
