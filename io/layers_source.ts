/**
 * A converted layers-model folder read under PyTorch names: each checkpoint key's tensor is cut
 * from the layers weight that holds it (one slice of a fused weight, transposed back for a
 * Linear weight) when it is read. For `resolvePretrained` and conversion, which want PyTorch
 * names; models load such a folder straight into their layers instead.
 * @module
 */
import { expectedShape, type LayoutBinding, transpose2d } from "./layers_layout.ts";
import type { TensorSource } from "./tensor_source.ts";

/**
 * The PyTorch-named view of a layers model's weights.
 * @param layers a source with `layersBindings` (a converted layers-model folder)
 * @returns a source under the bindings' keys, in their order; closing it closes `layers`
 * @throws RangeError naming a weight a binding names that the folder lacks
 */
export function pytorchNamedSource(layers: TensorSource): TensorSource {
  const bindings = layers.layersBindings ?? [];
  const byKey = new Map<string, LayoutBinding>();
  const uses = new Map<string, number>();
  const shapes = new Map<string, number[]>();
  for (const binding of bindings) {
    const shape = layers.shapes.get(binding.weight);
    if (shape === undefined) {
      throw new RangeError(
        `Cannot read ${layers.description}: weight ${binding.weight} is missing`,
      );
    }
    byKey.set(binding.key, binding);
    uses.set(binding.weight, (uses.get(binding.weight) ?? 0) + 1);
    shapes.set(binding.key, expectedShape(binding, shape));
  }
  // The weight read last: a fused weight's slices are read one after another.
  let last: { name: string; data: Float32Array } | null = null;
  return {
    description: layers.description,
    shapes,
    async read(key: string): Promise<Float32Array> {
      const binding = byKey.get(key);
      if (binding === undefined) {
        throw new RangeError(`Cannot read ${key}: ${layers.description} lacks it`);
      }
      let data: Float32Array;
      if (uses.get(binding.weight) === 1) {
        data = await layers.read(binding.weight); // fresh, and ours alone
      } else {
        if (last?.name !== binding.weight) {
          last = null; // let the previous weight go before the next is read
          last = { name: binding.weight, data: await layers.read(binding.weight) };
        }
        data = last.data;
      }
      let shape = [...layers.shapes.get(binding.weight)!];
      if (binding.part !== undefined) {
        // [..., count * width] -> slice `index` of the last axis: [..., width]
        const lastAxis = shape[shape.length - 1]!;
        const width = lastAxis / binding.part.count;
        const rows = data.length / lastAxis;
        const slice = new Float32Array(rows * width);
        for (let r = 0; r < rows; r++) {
          const start = r * lastAxis + binding.part.index * width;
          slice.set(data.subarray(start, start + width), r * width);
        }
        shape = [...shape.slice(0, -1), width];
        data = slice;
      } else if (!binding.transpose && data === last?.data) {
        data = data.slice(); // a fresh array, as `read` promises
      }
      return binding.transpose ? transpose2d(data, shape).data : data;
    },
    close(): void {
      last = null;
      layers.close();
    },
  };
}
