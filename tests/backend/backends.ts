/**
 * Shared helpers so every numeric suite loops over the same backends:
 *
 * ```ts
 * import { testBackends, useBackend } from "../backend/backends.ts";
 * for (const backend of testBackends()) {
 *   Deno.test(`my op on ${backend}`, async () => {
 *     await useBackend(backend);
 *     // ... compute and assert
 *   });
 * }
 * ```
 *
 * `DPR_TEST_BACKENDS` (comma-separated, e.g. `cpu,wasm`) overrides the list.
 * @module
 */
import { type ConcreteBackendName, setBackend } from "../../backend/set_backend.ts";
import { BACKEND_NAMES } from "../../backend/backend_name.ts";
import { probeWebGpu, type WebGpuProbe } from "../../backend/webgpu_adapter.ts";

/** The WebGPU adapter found when this module loaded (software adapters count). */
export const webGpuProbe: WebGpuProbe = await probeWebGpu();

function envList(): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: "DPR_TEST_BACKENDS" });
    if (status.state !== "granted") return undefined;
    const value = Deno.env.get("DPR_TEST_BACKENDS")?.trim();
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * The backends numeric tests should run on: cpu, wasm, and webgpu when `navigator.gpu` gives an
 * adapter (a software one too); `DPR_TEST_BACKENDS` overrides.
 *
 * @returns backend names in test order
 * @throws {RangeError} when `DPR_TEST_BACKENDS` names an unknown backend or "auto"
 */
export function testBackends(): ConcreteBackendName[] {
  const fromEnv = envList();
  if (fromEnv !== undefined) {
    return fromEnv.split(",").map((part) => part.trim()).filter((part) => part !== "").map(
      (part) => {
        if (part === "auto" || !(BACKEND_NAMES as readonly string[]).includes(part)) {
          throw new RangeError(
            `DPR_TEST_BACKENDS must list backends from ${
              BACKEND_NAMES.filter((n) => n !== "auto").join(", ")
            }: received "${part}"`,
          );
        }
        return part as ConcreteBackendName;
      },
    );
  }
  const list: ConcreteBackendName[] = ["cpu", "wasm"];
  if (webGpuProbe.available) list.push("webgpu");
  return list;
}

/**
 * Switches tfjs to `backend` for a test (explicit choice, so a software WebGPU adapter is used).
 *
 * @param backend the backend to run on
 */
export async function useBackend(backend: ConcreteBackendName): Promise<void> {
  await setBackend(backend);
}
