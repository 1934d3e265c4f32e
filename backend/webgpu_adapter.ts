/**
 * Finds out whether WebGPU can run here, and on what kind of adapter.
 * @module
 */

/** What {@linkcode probeWebGpu} found. */
export interface WebGpuProbe {
  /** True when `navigator.gpu.requestAdapter()` returned an adapter. */
  available: boolean;
  /** True when that adapter is a software/fallback one (llvmpipe, lavapipe, SwiftShader, WARP). */
  fallback: boolean;
  /** The adapter's description (or vendor/architecture), or why none was found. */
  description: string;
}

/** Adapter descriptions of known software rasterizers, for drivers that do not flag them. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|warp/i;

/** The adapter-info fields read here (a subset of `GPUAdapterInfo`). */
export interface AdapterInfoLike {
  description?: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  isFallbackAdapter?: boolean;
}

/** The adapter fields read here (a subset of `GPUAdapter`). */
export interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
}

/**
 * Asks `navigator.gpu` for a high-performance adapter, the same request tfjs-backend-webgpu makes,
 * and says whether it is a real GPU or a software fallback.
 *
 * @returns whether an adapter exists, whether it is a fallback, and its description.
 */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) {
    return {
      available: false,
      fallback: false,
      description: "navigator.gpu is undefined (this runtime has no WebGPU)",
    };
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (error) {
    return {
      available: false,
      fallback: false,
      description: `navigator.gpu.requestAdapter() threw: ${(error as Error).message}`,
    };
  }
  if (adapter === null) {
    return {
      available: false,
      fallback: false,
      description: "navigator.gpu.requestAdapter() returned null (no GPU adapter or driver found)",
    };
  }
  return { available: true, ...describeAdapter(adapter as unknown as AdapterLike) };
}

/**
 * Names an adapter and says whether it is a software fallback: flagged by the driver
 * (`info.isFallbackAdapter`, or the older `adapter.isFallbackAdapter`) or a known software
 * rasterizer by name.
 *
 * @param adapter a `GPUAdapter`, or any object with its `info` / `isFallbackAdapter` fields
 * @returns the adapter's description and whether it is a fallback
 */
export function describeAdapter(adapter: AdapterLike): { fallback: boolean; description: string } {
  const info: AdapterInfoLike = adapter.info ?? {};
  const description = info.description ||
    [info.vendor, info.architecture, info.device].filter((part) => part).join(" ") ||
    "unnamed adapter";
  const flagged = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  return { fallback: flagged || SOFTWARE_ADAPTER.test(description), description };
}
