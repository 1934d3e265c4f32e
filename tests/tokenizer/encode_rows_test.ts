import { deepEqual, equal, throws } from "node:assert/strict";
import { encodeRows, resolveEncodeSettings, type RowEncoder } from "../../tokenizer/encode_rows.ts";
import { padRows } from "../../tokenizer/padding.ts";
import { BertPostProcessor } from "../../tokenizer/post_processor.ts";
import { truncatePair } from "../../tokenizer/truncation.ts";

const ENCODER: RowEncoder = {
  name: "TestTokenizer",
  post: new BertPostProcessor(101, 102),
  padTokenId: 0,
  modelMaxLength: 8,
  modelInputNames: ["input_ids", "token_type_ids", "attention_mask"],
};

Deno.test("truncatePair cuts the longer sequence first, offsets with their tokens", () => {
  const a = { ids: [1, 2, 3, 4, 5], offsets: [0, 1, 1, 2, 2, 3, 3, 4, 4, 5] };
  const b = { ids: [6, 7], offsets: [0, 1, 1, 2] };
  const [ta, tb] = truncatePair(a, b, 3, 8, "longest_first");
  deepEqual(ta, { ids: [1, 2, 3], offsets: [0, 1, 1, 2, 2, 3] });
  equal(tb, b, "the shorter sequence is left as it is");
  const [same] = truncatePair(a, null, 2, 8, "longest_first");
  equal(same, a, "a sequence that fits is not copied");
  deepEqual(truncatePair(a, b, 3, 8, "do_not_truncate"), [a, b]);
});

Deno.test("the post-processor's row and padRows: special tokens, types, mask, offsets", () => {
  const post = new BertPostProcessor(101, 102);
  const row = post.row(
    { ids: [5], offsets: [0, 3] },
    { ids: [6, 7], offsets: [0, 2, 3, 4] },
    true,
    true,
  );
  deepEqual(row, {
    ids: [101, 5, 102, 6, 7, 102],
    typeIds: [0, 0, 0, 1, 1, 1],
    special: [1, 0, 1, 0, 0, 1],
    offsets: [0, 0, 0, 3, 0, 0, 0, 2, 3, 4, 0, 0],
  });
  const bare = post.row({ ids: [5], offsets: null }, null, false, false);
  deepEqual(bare, { ids: [5], typeIds: [0], special: [0], offsets: null });
  const padded = padRows([bare], 3, 0);
  deepEqual(padded.inputIds, [[5, 0, 0]]);
  deepEqual(padded.attentionMask, [[1, 0, 0]]);
  deepEqual(padded.specialTokensMask, [[0, 1, 1]]);
  deepEqual(padded.offsetMapping, []);
});

Deno.test("resolveEncodeSettings follows Hugging Face's defaults and refuses bad lengths", () => {
  const implied = resolveEncodeSettings({ maxLength: 4 }, ENCODER);
  equal(implied.truncation, "longest_first");
  const padded = resolveEncodeSettings({ padding: "max_length" }, ENCODER);
  equal(padded.maxLength, 8, "modelMaxLength when a length is needed");
  throws(() => resolveEncodeSettings({ maxLength: -1 }, ENCODER), {
    name: "RangeError",
    message: /TestTokenizer: maxLength must be a non-negative integer: received -1/,
  });
  const one = encodeRows([{ a: { ids: [5, 6], offsets: null }, b: null }], {}, false, ENCODER);
  deepEqual(one, {
    inputIds: [101, 5, 6, 102],
    tokenTypeIds: [0, 0, 0, 0],
    attentionMask: [1, 1, 1, 1],
  });
});
