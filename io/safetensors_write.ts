/**
 * Writer of the safetensors format (see `safetensors.ts` for the layout).
 * @module
 */
import { LITTLE_ENDIAN_HOST } from "./byte_reader.ts";
import type { StateDict } from "./state_dict.ts";

/** Options for {@linkcode writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** String metadata stored under `__metadata__`; default `{ format: "pt" }`. */
  metadata?: Record<string, string>;
}

/**
 * Writes a state dict as a float32 safetensors file (header padded with spaces to a multiple of
 * 8 bytes, as the reference implementation does).
 * @param stateDict the tensors to write, in this order
 * @param options metadata to store
 * @returns the file's bytes
 */
export function writeSafetensors(
  stateDict: StateDict,
  options: WriteSafetensorsOptions = {},
): Uint8Array {
  const metadata = options.metadata ?? { format: "pt" };
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot write safetensors: metadata values must be strings: "${key}" is ${
          JSON.stringify(value)
        }`,
      );
    }
  }
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, tensor] of stateDict) {
    if (name === "__metadata__") {
      throw new TypeError(`Cannot write a tensor named "__metadata__": the name is reserved`);
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new TypeError(
        `Cannot write tensor "${name}": data must be a Float32Array: received ${
          (tensor.data as unknown as object)?.constructor?.name ?? typeof tensor.data
        }`,
      );
    }
    if (
      !Array.isArray(tensor.shape) ||
      tensor.shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0)
    ) {
      throw new TypeError(
        `Cannot write tensor "${name}": shape must be non-negative integers: received ${
          JSON.stringify(tensor.shape)
        }`,
      );
    }
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new TypeError(
        `Cannot write tensor "${name}": shape [${tensor.shape}] holds ${count} values: ` +
          `received ${tensor.data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: tensor.shape,
      data_offsets: [offset, offset + count * 4],
    };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  json += " ".repeat(padded - headerBytes.length);
  headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of stateDict.values()) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(
        new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
        position,
      );
    } else {
      for (let i = 0; i < tensor.data.length; i++) {
        view.setFloat32(position + 4 * i, tensor.data[i]!, true);
      }
    }
    position += tensor.data.byteLength;
  }
  return out;
}
