// Runs one shard of an encoding job with the fake encoder. Args: passages outDir shardId
// numShards chunkSize killAfter. With killAfter > 0 the process kills itself (SIGKILL, as a
// crash would) right after its killAfter-th chunk is written: exactly that many chunks exist.
import { runEncodeJob } from "../../../pipeline/encode_passages.ts";
import { FakeEncoder } from "./fake_encoder.ts";

const [passages, outDir, shardId, numShards, chunkSize, killAfter] = Deno.args;
let written = 0;
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
    if (++written === Number(killAfter)) Deno.kill(Deno.pid, "SIGKILL");
  },
});
console.log(JSON.stringify(result));
