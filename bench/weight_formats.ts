/**
 * The seeded BERT-base question encoder of `quant_memory.ts` in every weight format a user may
 * load: `model.safetensors` (as written; "url" serves that folder over HTTP with range requests
 * from a separate process, `range_server.ts`), sharded safetensors (3 shards and an index, as
 * transformers writes them), `pytorch_model.bin` (a torch zip, written with the test suite's
 * pickle assembler since torch is not installed here) and a converted tfjs folder. Each is
 * written once, next to the checkpoint, into `scratch/` (ignored by git).
 * @module
 */
import { convertCheckpoint } from "../convert/convert.ts";
import { safetensorsFileSource } from "../io/safetensors_source.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import type { StateDict } from "../io/state_dict.ts";
import { PickleBuilder, torchZip } from "../tests/io/torch_bytes.ts";

/** The formats, by the name `--source` takes. */
export const SOURCES = ["safetensors", "sharded", "bin", "tfjs", "url"] as const;
/** One of {@linkcode SOURCES}. */
export type SourceName = typeof SOURCES[number];

/** Bytes per shard of the sharded copy (BERT-base then has 3 shards). */
const SHARD_BYTES = 160e6;

/**
 * The folder holding the checkpoint of `dir` in `source`'s format, written first if missing.
 * @param dir the folder with `model.safetensors` and `config.json` (ends with "/")
 * @param scratch where to write the other formats (ends with "/")
 * @param source the format
 * @returns the folder to load
 */
export async function formatFolder(
  dir: string,
  scratch: string,
  source: SourceName,
): Promise<string> {
  if (source === "safetensors" || source === "url") return dir;
  const out = `${scratch}bert-base-question-${source}/`;
  try {
    await Deno.stat(`${out}config.json`);
    return out;
  } catch { /* write it */ }
  const temp = `${scratch}.bert-base-question-${source}.writing/`;
  await Deno.remove(temp, { recursive: true }).catch(() => {});
  if (source === "tfjs") {
    await convertCheckpoint(dir, temp);
  } else {
    await Deno.mkdir(temp, { recursive: true });
    await Deno.copyFile(`${dir}config.json`, `${temp}config.json`);
    const tensors = await safetensorsFileSource(`${dir}model.safetensors`);
    try {
      const sd: StateDict = new Map();
      for (const [name, shape] of tensors.shapes) {
        sd.set(name, { shape: [...shape], data: await tensors.read(name) });
      }
      if (source === "sharded") await writeShards(temp, sd);
      else await Deno.writeFile(`${temp}pytorch_model.bin`, torchStateDict(sd));
    } finally {
      tensors.close();
    }
  }
  await Deno.rename(temp, out);
  return out;
}

async function writeShards(dir: string, sd: StateDict): Promise<void> {
  const groups: string[][] = [[]];
  let bytes = 0;
  for (const [name, tensor] of sd) {
    if (bytes + tensor.data.byteLength > SHARD_BYTES && groups.at(-1)!.length > 0) {
      groups.push([]);
      bytes = 0;
    }
    groups.at(-1)!.push(name);
    bytes += tensor.data.byteLength;
  }
  const weightMap: Record<string, string> = {};
  for (const [i, names] of groups.entries()) {
    const file = `model-${String(i + 1).padStart(5, "0")}-of-${
      String(groups.length).padStart(5, "0")
    }.safetensors`;
    const shard: StateDict = new Map(names.map((n) => [n, sd.get(n)!]));
    await Deno.writeFile(`${dir}${file}`, writeSafetensors(shard, { metadata: { format: "pt" } }));
    for (const n of names) weightMap[n] = file;
  }
  await Deno.writeTextFile(
    `${dir}model.safetensors.index.json`,
    JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2),
  );
}

/** A state dict as `torch.save` writes it (zip format, one float32 storage per tensor). */
function torchStateDict(sd: StateDict): Uint8Array {
  const p = new PickleBuilder();
  const storages: Record<string, Uint8Array> = {};
  p.global("collections", "OrderedDict").raw(0x29).reduce().mark();
  let key = 0;
  for (const [name, tensor] of sd) {
    const stride = tensor.shape.map((_, i) => tensor.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.str(name).tensor(String(key), "FloatStorage", tensor.data.length, 0, tensor.shape, stride);
    const data = tensor.data;
    storages[String(key++)] = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  p.setitems();
  return torchZip(p.stop(), storages);
}
