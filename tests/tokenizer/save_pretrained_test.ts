// savePretrained writes what transformers' save_pretrained writes (byte for byte, for the fixture
// folders transformers saved), and the folder loads back to a tokenizer that encodes the same.
import assert from "node:assert/strict";
import {
  BertTokenizer,
  BertTokenizerFast,
  DPRContextEncoderTokenizer,
  DPRContextEncoderTokenizerFast,
  DPRQuestionEncoderTokenizer,
  DPRQuestionEncoderTokenizerFast,
  DPRReaderTokenizer,
} from "../../tokenizer/mod.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const FILES = ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];
const TEXTS = [
  "Hello, world! Who invented the telephone?",
  "Naïve café über CRÈME brûlée",
  "日本語のテキスト and emoji 🙂",
  "[CLS] keep [MASK] whole",
  "",
];

interface Loadable {
  fromPretrained(dir: string): Promise<BertTokenizer>;
  name: string;
}

const CASES: Array<[string, Loadable]> = [
  ["dpr-question_encoder-tiny", DPRQuestionEncoderTokenizer],
  ["dpr-question_encoder-tiny", DPRQuestionEncoderTokenizerFast],
  ["dpr-ctx_encoder-tiny", DPRContextEncoderTokenizer],
  ["dpr-ctx_encoder-tiny", DPRContextEncoderTokenizerFast],
  ["dpr-reader-tiny", DPRReaderTokenizer],
];

function sameEncodings(a: BertTokenizer, b: BertTokenizer): void {
  for (const text of TEXTS) {
    assert.deepEqual(b.encode([text]), a.encode([text]), text);
    assert.deepEqual(b.tokenize(text), a.tokenize(text), text);
  }
  assert.deepEqual(b.allSpecialTokens, a.allSpecialTokens);
  assert.deepEqual(b.allSpecialIds, a.allSpecialIds);
  assert.equal(b.modelMaxLength, a.modelMaxLength);
  assert.equal(b.constructor, a.constructor);
}

for (const [name, cls] of CASES) {
  Deno.test(`${cls.name}.savePretrained writes transformers' files for ${name}, and reloads`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const tokenizer = await cls.fromPretrained(`${MODELS}${name}`);
      await tokenizer.savePretrained(`${dir}/saved`);
      for (const file of FILES) {
        assert.equal(
          await Deno.readTextFile(`${dir}/saved/${file}`),
          await Deno.readTextFile(`${MODELS}${name}/${file}`),
          `${file} as transformers wrote it`,
        );
      }
      sameEncodings(tokenizer, await cls.fromPretrained(`${dir}/saved`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("savePretrained keeps every option the files can hold", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const vocab = (await Deno.readTextFile(`${MODELS}dpr-ctx_encoder-tiny/vocab.txt`))
      .trimEnd().split("\n");
    const tokenizer = new BertTokenizer([...vocab, "<ent>", "[E1]"], {
      doLowerCase: false,
      stripAccents: true,
      tokenizeChineseChars: false,
      cleanUpTokenizationSpaces: false,
      neverSplit: ["[MASK]"],
      additionalSpecialTokens: ["[E1]"],
      addedTokens: ["<ent>"],
    });
    await tokenizer.savePretrained(dir);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
    assert.equal(config.tokenizer_class, "BertTokenizer");
    assert.equal(config.do_lower_case, false);
    assert.equal(config.strip_accents, true);
    assert.deepEqual(config.additional_special_tokens, ["[E1]"]);
    // Unlimited, as transformers writes it (int(1e30)).
    assert.match(
      await Deno.readTextFile(`${dir}/tokenizer_config.json`),
      /"model_max_length": 1000000000000000019884624838656,/,
    );
    const reloaded = await BertTokenizer.fromPretrained(dir);
    sameEncodings(tokenizer, reloaded);
    for (const text of ["x<ent>y [E1] Z日本", "Crème [MASK] brûlée"]) {
      assert.deepEqual(reloaded.encode([text]), tokenizer.encode([text]), text);
    }
    assert.equal(
      reloaded.decode(reloaded.encode("a [E1] <ent>").inputIds, { skipSpecialTokens: true }),
      tokenizer.decode(tokenizer.encode("a [E1] <ent>").inputIds, { skipSpecialTokens: true }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("savePretrained refuses what the files cannot say, writing nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const vocab = (await Deno.readTextFile(`${MODELS}dpr-ctx_encoder-tiny/vocab.txt`))
      .trimEnd().split("\n");
    const tokenizer = new BertTokenizerFast(vocab, { continuingSubwordPrefix: "@@" });
    await assert.rejects(
      () => tokenizer.savePretrained(`${dir}/out`),
      (error: unknown) =>
        error instanceof RangeError &&
        /Cannot save BertTokenizerFast: continuingSubwordPrefix "@@" differs/.test(error.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
