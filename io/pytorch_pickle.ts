/**
 * Reader for `pytorch_model.bin` files written by `torch.save`: the zip format of PyTorch 1.6 and
 * later (`<root>/data.pkl`, a pickle whose tensors point through persistent ids at storages
 * stored as `<root>/data/<key>`) and the older "legacy" format (pickles in a row, then the raw
 * storages), which the original DPR checkpoints and early hub uploads use. Every pickle goes
 * through the restricted unpickler of `pickle.ts` with a table of the few globals state dicts
 * use; anything else is refused by name. Tensors are decoded one at a time from their storages.
 * The ancient tar format is refused with a clear error.
 * @module
 */
import { describeValue } from "./describe_value.ts";
import { checkFiniteWeights, type NonFiniteOption } from "./finite_weights.ts";
import type { ByteReader } from "./byte_reader.ts";
import { memoryReader } from "./byte_reader.ts";
import { unpickle } from "./pickle.ts";
import { openLegacy } from "./pytorch_legacy.ts";
import type { StateDict } from "./state_dict.ts";
import {
  allowedGlobals,
  checkStorageSize,
  readTorchTensor,
  storageLoader,
  type StorageLocation,
  type TorchCheckpoint,
  type TorchStorageRef,
  TorchTensorRef,
} from "./torch_storage.ts";
import { looksLikeZip, readZipDirectory, readZipEntry, zipEntryDataOffset } from "./zip_reader.ts";
import type { ZipEntry } from "./zip_reader.ts";

export { type TorchCheckpoint, TorchStorageRef, TorchTensorRef } from "./torch_storage.ts";
/** Options for {@linkcode readPytorchCheckpoint}. */
export interface ReadPytorchOptions extends NonFiniteOption {
  /** Names the file in error messages. */
  description?: string;
  /** Decodes only tensors whose names pass this test. */
  filter?: (name: string) => boolean;
}

/**
 * Describes what a file that is not a torch zip archive is, for the error message.
 * @param first the first bytes of the file (at least 512 when available)
 * @returns a sentence saying what the file seems to be
 */
function notZipReason(first: Uint8Array): string {
  const ustar = new TextDecoder().decode(first.subarray(257, 262));
  if (ustar === "ustar") {
    return "it is in the legacy tar torch.save format, which is not supported; re-save it with " +
      "PyTorch 1.6 or later";
  }
  return "it is not a zip archive written by torch.save";
}

/**
 * Opens a torch zip checkpoint and unpickles its object tree, without decoding any tensor.
 * @param input the file's bytes or a reader over it
 * @param description names the file in error messages
 * @returns the object tree and a tensor decoder
 */
export async function openPytorchCheckpoint(
  input: Uint8Array | ByteReader,
  description?: string,
): Promise<TorchCheckpoint> {
  const reader = input instanceof Uint8Array ? memoryReader(input, description) : input;
  const name = description ?? reader.description;
  const where = `Cannot read PyTorch checkpoint ${name}`;
  const first = await reader.read(0, Math.min(reader.size, 512));
  if (!looksLikeZip(first)) {
    if (first[0] === 0x80) return await openLegacy(reader, name, where);
    throw new TypeError(`${where}: ${notZipReason(first)}`);
  }
  let entries: Map<string, ZipEntry>;
  try {
    entries = await readZipDirectory(reader);
  } catch (error) {
    throw new RangeError(`${where}: ${(error as Error).message}`);
  }
  const pickles = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new SyntaxError(
      `${where}: expected exactly one <root>/data.pkl entry: found ${pickles.length}`,
    );
  }
  const root = pickles[0]!.slice(0, -"/data.pkl".length);
  const byteorder = entries.get(`${root}/byteorder`);
  if (byteorder !== undefined) {
    const order = new TextDecoder().decode(await readZipEntry(reader, byteorder)).trim();
    if (order !== "little") {
      throw new TypeError(`${where}: byteorder must be "little": received "${order}"`);
    }
  }
  const pickle = await readZipEntry(reader, entries.get(pickles[0]!)!);
  const storages = new Map<string, TorchStorageRef>();
  const tree = unpickle(pickle, {
    description: `${pickles[0]} in ${name}`,
    findGlobal: allowedGlobals(where),
    persistentLoad: storageLoader(storages, where),
  });
  return {
    root: tree,
    reader,
    where,
    async locate(ref: TorchTensorRef, tensorName: string): Promise<StorageLocation> {
      const entry = entries.get(`${root}/data/${ref.storage.key}`);
      if (entry === undefined) {
        throw new RangeError(
          `${where}: tensor "${tensorName}": storage ${ref.storage.key} is missing from the archive`,
        );
      }
      checkStorageSize(ref, tensorName, where, entry.size);
      try {
        return {
          start: await zipEntryDataOffset(reader, entry),
          bytes: entry.size,
          crc32: entry.crc32,
        };
      } catch (error) {
        throw new RangeError(`${where}: tensor "${tensorName}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
  };
}

/**
 * The tensors of a state-dict map, checked: every key a string, every value a tensor.
 * @param map the dict holding tensors by name
 * @param description names the file in errors
 * @returns the tensor views by name, in the dict's order
 */
export function tensorRefs(
  map: Map<unknown, unknown>,
  description: string,
): Map<string, TorchTensorRef> {
  const out = new Map<string, TorchTensorRef>();
  for (const [key, value] of map) {
    if (typeof key !== "string") {
      throw new TypeError(
        `Cannot read ${description}: state dict key ${describeValue(key)} is not a string`,
      );
    }
    if (!(value instanceof TorchTensorRef)) {
      throw new TypeError(`Cannot read ${description}: state dict entry "${key}" is not a tensor`);
    }
    out.set(key, value);
  }
  return out;
}

/**
 * Finds the state dict in a checkpoint's object tree: the root, or the dict a training
 * checkpoint wraps it in (`state_dict`, `model_state_dict`, `model`).
 * @param root the unpickled object
 * @param description names the file in errors
 * @returns the dict of tensors
 * @throws TypeError when there is none
 */
export function findStateDict(root: unknown, description: string): Map<unknown, unknown> {
  if (root instanceof Map && ![...root.values()].some((v) => v instanceof TorchTensorRef)) {
    for (const key of ["state_dict", "model_state_dict", "model"]) {
      if (root.get(key) instanceof Map) return root.get(key);
    }
  }
  if (!(root instanceof Map)) {
    throw new TypeError(
      `Cannot read PyTorch checkpoint ${description}: it does not hold a state dict (a dict of ` +
        `tensors)`,
    );
  }
  return root;
}

/**
 * Collects the tensors of a state-dict map, decoding them one at a time.
 * @param checkpoint an opened checkpoint
 * @param map the dict holding tensors by name
 * @param options name filter, description for errors, and `allowNonFinite`
 * @throws {RangeError} when a tensor holds a NaN or an infinity and they are not allowed
 * @returns the decoded state dict
 */
export async function collectStateDict(
  checkpoint: TorchCheckpoint,
  map: Map<unknown, unknown>,
  options: { filter?: (name: string) => boolean; description: string } & NonFiniteOption,
): Promise<StateDict> {
  const result: StateDict = new Map();
  for (const [key, ref] of tensorRefs(map, options.description)) {
    if (options.filter && !options.filter(key)) continue;
    const tensor = await readTorchTensor(checkpoint, ref, key);
    checkFiniteWeights(tensor.data, key, `Cannot read ${options.description}`, options);
    result.set(key, tensor);
  }
  return result;
}

/**
 * Reads a `pytorch_model.bin` (torch.save zip format) holding a state dict.
 *
 * @param input the file's bytes or a reader over it (use `openFileReader` to stream from disk)
 * @param options description for errors, a name filter, and `allowNonFinite`
 * @returns tensors by name, decoded to float32
 */
export async function readPytorchCheckpoint(
  input: Uint8Array | ByteReader,
  options: ReadPytorchOptions = {},
): Promise<StateDict> {
  const description = options.description ??
    (input instanceof Uint8Array ? "pytorch_model.bin" : input.description);
  const checkpoint = await openPytorchCheckpoint(input, description);
  return collectStateDict(checkpoint, findStateDict(checkpoint.root, description), {
    filter: options.filter,
    description,
    allowNonFinite: options.allowNonFinite,
  });
}
