/**
 * The legacy (PyTorch < 1.6) `torch.save` format, which the original DPR checkpoints and early
 * hub uploads use.
 * @module
 */
import { describeValue } from "./describe_value.ts";
import type { ByteReader } from "./byte_reader.ts";
import { PickleTruncatedError, unpickleAt } from "./pickle.ts";
import {
  allowedGlobals,
  storageLoader,
  type StorageLocation,
  type TorchCheckpoint,
  type TorchStorageRef,
  type TorchTensorRef,
} from "./torch_storage.ts";
/** The first pickle of a legacy torch file: this magic number. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/**
 * Opens a checkpoint in the legacy (PyTorch < 1.6) `torch.save` format: five pickles in a row
 * (magic number, protocol 1001, system info, the object, the storage keys), then each storage as
 * an 8-byte element count and its raw bytes, in the order of the keys.
 */
export async function openLegacy(
  reader: ByteReader,
  name: string,
  where: string,
): Promise<TorchCheckpoint> {
  let chunk = Math.min(reader.size, 1 << 20);
  while (true) {
    const head = await reader.read(0, chunk);
    try {
      return parseLegacy(head, reader, name, where);
    } catch (error) {
      if (error instanceof PickleTruncatedError && chunk < reader.size) {
        chunk = Math.min(reader.size, chunk * 4);
        continue;
      }
      throw error;
    }
  }
}

function parseLegacy(
  head: Uint8Array,
  reader: ByteReader,
  name: string,
  where: string,
): TorchCheckpoint {
  const plain = { description: name, findGlobal: () => undefined };
  let r = unpickleAt(head, 0, plain);
  if (r.value !== LEGACY_MAGIC) {
    throw new TypeError(`${where}: it is neither a torch zip archive nor a legacy torch file`);
  }
  r = unpickleAt(head, r.end, plain);
  if (r.value !== 1001) {
    throw new TypeError(
      `${where}: legacy torch protocol ${describeValue(r.value)} is not supported`,
    );
  }
  r = unpickleAt(head, r.end, plain);
  const sysInfo = r.value;
  if (sysInfo instanceof Map && sysInfo.get("little_endian") === false) {
    throw new TypeError(`${where}: it was saved on a big-endian machine; not supported`);
  }
  const storages = new Map<string, TorchStorageRef>();
  r = unpickleAt(head, r.end, {
    description: name,
    findGlobal: allowedGlobals(where),
    persistentLoad: storageLoader(storages, where),
  });
  const tree = r.value;
  r = unpickleAt(head, r.end, plain);
  const keys = r.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    throw new TypeError(`${where}: the legacy storage key list is malformed`);
  }
  const positions = new Map<string, number>();
  let position = r.end;
  for (const key of keys as string[]) {
    const storage = storages.get(key);
    if (storage === undefined) {
      throw new TypeError(`${where}: storage ${key} is listed but no tensor uses it`);
    }
    positions.set(key, position + 8);
    position += 8 + storage.numel * storage.itemBytes;
  }
  if (position > reader.size) {
    throw new RangeError(
      `${where}: the storages need ${position} bytes but the file has ${reader.size}; it is ` +
        `truncated`,
    );
  }
  if (position < reader.size) {
    // The storages' types say how many bytes each holds; bytes left over mean a storage's type
    // was changed to a narrower one (its data read as other values).
    throw new RangeError(
      `${where}: the storages' types and sizes account for ${position} bytes but the file has ` +
        `${reader.size}; a storage's type does not match its data`,
    );
  }
  return {
    root: tree,
    reader,
    where,
    async locate(ref: TorchTensorRef, tensorName: string): Promise<StorageLocation> {
      const start = positions.get(ref.storage.key);
      if (start === undefined) {
        throw new RangeError(
          `${where}: tensor "${tensorName}": storage ${ref.storage.key} is not in the file`,
        );
      }
      const header = await reader.read(start - 8, 8);
      const stored = Number(
        new DataView(header.buffer, header.byteOffset, 8).getBigInt64(0, true),
      );
      if (stored !== ref.storage.numel) {
        throw new RangeError(
          `${where}: storage ${ref.storage.key} holds ${stored} elements, the pickle says ` +
            `${ref.storage.numel}`,
        );
      }
      return { start, bytes: ref.storage.numel * ref.storage.itemBytes };
    },
  };
}
