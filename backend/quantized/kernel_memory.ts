/**
 * Where int8 weight matrices live when a WebAssembly kernel reads them: one shared
 * `WebAssembly.Memory` (a `SharedArrayBuffer`, so growing it never detaches the views handed
 * out) with a small allocator. A weight's values are an `Int8Array` view into it, read by
 * JavaScript like any other array and by the wasm kernel at its address, in place: no copy of
 * the matrix, in any layout, exists beside it.
 *
 * A block is freed when its weight is disposed with its model ({@linkcode KernelMemory.release}),
 * or else when the view it was handed out as is garbage collected, and reused by later
 * allocations; the memory itself never shrinks (wasm
 * memories cannot), so its size is the most ever held at once. Without `SharedArrayBuffer`
 * there is no kernel memory ({@linkcode kernelMemory} returns undefined) and weights stay plain
 * arrays.
 * @module
 */

/** Bytes of a wasm page. */
const PAGE = 65536;
/** Most pages a 32-bit memory may have (4 GiB). */
const MAX_PAGES = 65536;
/** Alignment of every block. */
const ALIGN = 16;
/**
 * Bytes kept readable after every block: a kernel may load a few bytes past a row's end (and
 * multiplies them by zero).
 */
export const KERNEL_MEMORY_SLACK = 64;

/** The shared memory and its allocator. */
export class KernelMemory {
  /** The memory kernels import as `env.memory` (shared, at most 4 GiB). */
  readonly memory: WebAssembly.Memory;
  /** Free blocks, sorted by address: [address, bytes]. */
  readonly #free: Array<[number, number]> = [];
  /** Bytes of every live block, by address. */
  readonly #sizes = new Map<number, number>();
  /** The address of each view handed out by {@linkcode KernelMemory.int8}. */
  readonly #views = new WeakMap<Int8Array, number>();
  readonly #collected = new FinalizationRegistry<number>((address) => this.free(address));
  /** First address never allocated. */
  #top = ALIGN;

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  }

  /** Bytes the memory holds now (the high-water mark of its blocks). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Allocates `bytes` (aligned to 16, with {@linkcode KERNEL_MEMORY_SLACK} readable bytes after).
   * @param bytes the size
   * @returns the block's byte address
   * @throws RangeError when the memory cannot grow to hold it (naming the bytes)
   */
  alloc(bytes: number): number {
    const size = Math.ceil((Math.max(bytes, 1) + KERNEL_MEMORY_SLACK) / ALIGN) * ALIGN;
    for (let i = 0; i < this.#free.length; i++) {
      const [address, free] = this.#free[i]!;
      if (free < size) continue;
      if (free === size) this.#free.splice(i, 1);
      else this.#free[i] = [address + size, free - size];
      this.#sizes.set(address, size);
      return address;
    }
    const address = this.#top;
    const end = address + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (error) {
        throw new RangeError(
          `Cannot allocate ${bytes} bytes of kernel memory (holding ${have} bytes): ` +
            (error as Error).message,
        );
      }
    }
    this.#top = end;
    this.#sizes.set(address, size);
    return address;
  }

  /**
   * Frees a block from {@linkcode KernelMemory.alloc} (merged with free neighbours).
   * @param address its address
   */
  free(address: number): void {
    const size = this.#sizes.get(address);
    if (size === undefined) return;
    this.#sizes.delete(address);
    let at = this.#free.findIndex(([a]) => a > address);
    if (at < 0) at = this.#free.length;
    this.#free.splice(at, 0, [address, size]);
    const next = this.#free[at + 1];
    if (next !== undefined && address + size === next[0]) {
      this.#free[at] = [address, size + next[1]];
      this.#free.splice(at + 1, 1);
    }
    const prev = this.#free[at - 1];
    if (prev !== undefined && prev[0] + prev[1] === address) {
      prev[1] += this.#free[at]![1];
      this.#free.splice(at, 1);
      at--;
    }
    const last = this.#free[this.#free.length - 1];
    if (last !== undefined && last[0] + last[1] === this.#top) {
      this.#top = last[0];
      this.#free.pop();
    }
  }

  /**
   * A zeroed `Int8Array` of `length` in this memory, freed when the view is collected.
   * @param length values
   * @returns the view
   */
  int8(length: number): Int8Array {
    const address = this.alloc(length);
    const view = new Int8Array(this.memory.buffer, address, length);
    view.fill(0); // a reused block holds old values
    this.#views.set(view, address);
    this.#collected.register(view, address, view);
    return view;
  }

  /**
   * Frees the block of a view from {@linkcode KernelMemory.int8} now, rather than when the view is
   * collected (a no-op for any other array). The view must not be read or written after.
   * @param view the view
   */
  release(view: ArrayBufferView): void {
    const address = this.addressOf(view);
    if (address === undefined) return;
    this.#views.delete(view as Int8Array);
    this.#collected.unregister(view);
    this.free(address);
  }

  /** Bytes of the blocks in use (their sizes, slack and alignment included). */
  get liveBytes(): number {
    let bytes = 0;
    for (const size of this.#sizes.values()) bytes += size;
    return bytes;
  }

  /**
   * The byte address of `view`'s first value when it is a view from {@linkcode KernelMemory.int8}.
   * @param view any array
   * @returns the address, or undefined
   */
  addressOf(view: ArrayBufferView): number | undefined {
    return view instanceof Int8Array ? this.#views.get(view) : undefined;
  }
}

let shared: KernelMemory | null | undefined;
let inUse = false;

/**
 * The process's kernel memory, created on first call; undefined where `SharedArrayBuffer` or
 * shared wasm memories are missing.
 */
export function kernelMemory(): KernelMemory | undefined {
  if (shared === undefined) {
    try {
      shared = typeof SharedArrayBuffer === "function" ? new KernelMemory() : null;
    } catch {
      shared = null;
    }
  }
  return shared ?? undefined;
}

/**
 * Says that a kernel reading int8 weights from kernel memory is in use (the wasm backend turns
 * it on): from then on, weights created for a model ({@linkcode int8Storage}) are allocated
 * there.
 * @param on whether such a kernel runs
 * @returns whether it was on before
 */
export function useKernelMemory(on: boolean): boolean {
  const before = inUse;
  inUse = on && kernelMemory() !== undefined;
  return before;
}

/**
 * A zeroed `Int8Array` for a weight's values: in kernel memory while a kernel reads it (see
 * {@linkcode useKernelMemory}), else a plain array.
 * @param length values
 * @returns the array
 */
export function int8Storage(length: number): Int8Array {
  return inUse ? kernelMemory()!.int8(length) : new Int8Array(length);
}
