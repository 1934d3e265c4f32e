// Runs one shard of an encoding job with the fake encoder, sleeping after each chunk so a test
// can kill it midway. Args: passages outDir shardId numShards chunkSize delayMs
import { runEncodeJob } from "../../../pipeline/encode_passages.ts";
import { FakeEncoder } from "./fake_encoder.ts";

const [passages, outDir, shardId, numShards, chunkSize, delay] = Deno.args;
const result = await runEncodeJob({
  passages: passages!,
  outDir: outDir!,
  encoder: new FakeEncoder(),
  shardId: Number(shardId),
  numShards: Number(numShards),
  chunkSize: Number(chunkSize),
  batchSize: 4,
  progress: false,
  afterChunk: (chunk) => {
    console.log(`chunk ${chunk}`);
    return new Promise((resolve) => setTimeout(resolve, Number(delay)));
  },
});
console.log(JSON.stringify(result));
