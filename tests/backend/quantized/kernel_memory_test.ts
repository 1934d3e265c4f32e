/**
 * Kernel memory: blocks are aligned, zeroed, reused after being freed (neighbours merged), views
 * survive the memory's growth, and a model's int8 weights are allocated there only while a kernel
 * reads them.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  int8Storage,
  KERNEL_MEMORY_SLACK,
  KernelMemory,
  kernelMemory,
  useKernelMemory,
} from "../../../backend/quantized/kernel_memory.ts";
import { emptyQuantized, quantizeRows } from "../../../backend/quantized/quantized_weight.ts";
import { seeded } from "../../seeded.ts";

const shared = typeof SharedArrayBuffer === "function";

Deno.test({
  name: "KernelMemory: aligned blocks with slack, reused once freed, merged with neighbours",
  ignore: !shared,
  fn() {
    const memory = new KernelMemory();
    const a = memory.alloc(10), b = memory.alloc(100), c = memory.alloc(7);
    for (const x of [a, b, c]) equal(x % 16, 0);
    ok(b - a >= 10 + KERNEL_MEMORY_SLACK && c - b >= 100 + KERNEL_MEMORY_SLACK);
    memory.free(a);
    memory.free(b);
    equal(memory.alloc(100 + 10), a, "a and b merged into one free block");
    memory.free(c);
    const d = memory.alloc(1);
    ok(d >= a);
  },
});

Deno.test({
  name: "KernelMemory: views stay valid and zeroed across growth",
  ignore: !shared,
  fn() {
    const memory = new KernelMemory();
    const first = memory.int8(1000);
    first.set(seeded(1000, 1, 100).map(Math.round));
    const copy = Int8Array.from(first);
    const before = memory.byteLength;
    const big = memory.int8(3 << 20);
    ok(memory.byteLength > before, "the memory grew");
    deepEqual(Int8Array.from(first), copy, "the first view still reads its values");
    ok(big.every((v) => v === 0));
    ok(memory.addressOf(first) !== undefined && memory.addressOf(new Int8Array(4)) === undefined);
  },
});

Deno.test({
  name: "int8Storage: kernel memory only while a kernel reads it; index-style quantizing never",
  ignore: !shared,
  fn() {
    const memory = kernelMemory()!;
    const before = useKernelMemory(false);
    equal(memory.addressOf(int8Storage(8)), undefined);
    useKernelMemory(true);
    try {
      ok(memory.addressOf(int8Storage(8)) !== undefined);
      const model = emptyQuantized([4, 4], "int8", { forKernels: true });
      ok(memory.addressOf(model.data) !== undefined);
      const temporary = quantizeRows(seeded(16, 2), [4, 4], "int8");
      equal(memory.addressOf(temporary.data), undefined);
    } finally {
      useKernelMemory(before);
    }
  },
});

Deno.test({
  name: "KernelMemory: release frees a view's block at once; other arrays are left alone",
  ignore: !shared,
  fn() {
    const memory = new KernelMemory();
    const before = memory.liveBytes;
    const view = memory.int8(1000);
    ok(memory.liveBytes >= before + 1000);
    memory.release(view);
    equal(memory.liveBytes, before);
    equal(memory.addressOf(view), undefined);
    memory.release(view); // twice: nothing more
    memory.release(new Int8Array(4));
    equal(memory.liveBytes, before);
    equal(memory.int8(1000).byteOffset, view.byteOffset, "the block is reused");
  },
});
