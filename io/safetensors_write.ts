/**
 * Writer of the safetensors format (see `safetensors.ts` for the layout).
 * @module
 */
import { LITTLE_ENDIAN_HOST } from "./byte_reader.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";

/**
 * A tensor stored in another dtype than float32: int8 values (`I8`) or float16 bit patterns
 * (`F16`), written as they are (a quantized model saved quantized).
 */
export interface EncodedTensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** The values, in the dtype's own array type. */
  data: Int8Array | Uint16Array;
  /** The safetensors dtype. */
  dtype: "I8" | "F16";
}

/** Options for {@linkcode writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** String metadata stored under `__metadata__`; default `{ format: "pt" }`. */
  metadata?: Record<string, string>;
}

/**
 * Writes a state dict as a safetensors file: float32 tensors, and int8 / float16 ones as they are (header padded with spaces to a multiple of
 * 8 bytes, as the reference implementation does).
 * @param stateDict the tensors to write, in this order
 * @param options metadata to store
 * @returns the file's bytes
 */
export function writeSafetensors(
  stateDict: StateDict | ReadonlyMap<string, RawTensor | EncodedTensor>,
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
    const dtype = "dtype" in tensor ? tensor.dtype : "F32";
    const want = dtype === "I8" ? Int8Array : dtype === "F16" ? Uint16Array : Float32Array;
    if (!(tensor.data instanceof want)) {
      throw new TypeError(
        `Cannot write tensor "${name}": ${dtype} data must be a ${want.name}: received ${
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
      dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.data.byteLength],
    };
    offset += tensor.data.byteLength;
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
    if (LITTLE_ENDIAN_HOST || tensor.data instanceof Int8Array) {
      out.set(
        new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
        position,
      );
    } else {
      for (let i = 0; i < tensor.data.length; i++) {
        if (tensor.data instanceof Uint16Array) {
          view.setUint16(position + 2 * i, tensor.data[i]!, true);
        } else view.setFloat32(position + 4 * i, tensor.data[i]!, true);
      }
    }
    position += tensor.data.byteLength;
  }
  return out;
}
