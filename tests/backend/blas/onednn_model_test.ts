// The "blas" backend with oneDNN (and with its packed weights) must encode as the cpu backend
// does, and free packed weights with their model. Each case runs in a child process, since the
// backend's options are fixed when it registers. Skipped, with a message, without oneDNN 2.
import assert from "node:assert/strict";
import { missingOneDnn, missingOpenBlas } from "./libraries.ts";

// Ignored (never passed) without OpenBLAS or oneDNN 2, with a line saying what to install.
const noBlas = missingOpenBlas("blas model") !== undefined;
const missing = noBlas ? "OpenBLAS" : missingOneDnn("oneDNN model");

interface ChildReport {
  oneDnn: string | null;
  maxRel: number;
  packed: number;
  heldBytes: number;
  inPlace: number;
  readBack: boolean;
  sumOk: boolean;
  packedAfterOff: number | null;
  inPlaceAfterOff: number | null;
  maxRelAfterOff: number | null;
  packedAfterDispose: number;
  weightBytes: number;
  reason: string;
}

async function child(env: Record<string, string>): Promise<ChildReport> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./onednn_model_child.ts", import.meta.url).pathname],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as ChildReport;
}

Deno.test({
  name: "blas with oneDNN and DPR_BLAS_PREPACK=0 encodes as cpu does (1e-4), packing nothing",
  ignore: missing !== undefined,
  async fn() {
    const report = await child({ DPR_BLAS_PREPACK: "0" });
    assert.match(String(report.oneDnn), /^2\.\d+\.\d+$/);
    assert.match(report.reason, /native BLAS through FFI \(.*, oneDNN 2\.\d+\.\d+\)/);
    assert.ok(report.maxRel < 1e-4, `max relative difference ${report.maxRel}`);
    assert.equal(report.packed, 0);
    assert.equal(report.inPlace, 0);
  },
});

Deno.test({
  name: "blas with packed weights encodes as cpu does; reading them back gives them plain",
  ignore: missing !== undefined,
  async fn() {
    // Packing is the default: the variable unset (an empty value counts as unset).
    const report = await child({ DPR_BLAS_PREPACK: "" });
    assert.ok(report.maxRel < 1e-4, `max relative difference ${report.maxRel}`);
    // Every linear weight of both layers is packed, held by its layer in place of its plain
    // matrix (no copy kept), but the last attention output's: the last layer runs it on the [CLS]
    // rows only, a product too small to leave OpenBLAS.
    assert.equal(report.inPlace, 7);
    assert.equal(report.packed, report.heldBytes);
    // Every kernel but one [256, 256] one, at least as large as its plain matrix.
    const want = report.weightBytes - 4 * 256 * 256;
    assert.ok(report.heldBytes >= want, `${report.heldBytes} bytes packed, want ${want}`);
    // plainWeight (as stateDict) gives every weight back bit for bit; other ops see it plain.
    assert.equal(report.readBack, true);
    assert.equal(report.sumOk, true);
    assert.equal(report.packedAfterDispose, 0);
  },
});

Deno.test({
  name: "setBackend's blasPrepack turns packing on; setBlasPrepack(false) puts plain weights back",
  ignore: missing !== undefined,
  async fn() {
    const report = await child({ DPR_BLAS_PREPACK: "0", CHILD_SET_BACKEND: "1" });
    assert.ok(report.maxRel < 1e-4, `max relative difference ${report.maxRel}`);
    assert.equal(report.inPlace, 7);
    assert.equal(report.readBack, true);
    assert.match(report.reason, /oneDNN 2\.\d+\.\d+, packed weights/);
    assert.equal(report.packedAfterOff, 0);
    assert.equal(report.inPlaceAfterOff, 0);
    assert.ok(report.maxRelAfterOff! < 1e-4, `after: ${report.maxRelAfterOff}`);
    assert.equal(report.packedAfterDispose, 0);
  },
});

Deno.test("DPR_ONEDNN=0 keeps the blas backend on OpenBLAS alone", { ignore: noBlas }, async () => {
  const report = await child({ DPR_ONEDNN: "0", DPR_BLAS_PREPACK: "1" });
  assert.equal(report.oneDnn, null);
  assert.match(report.reason, /without oneDNN: turned off/);
  assert.ok(report.maxRel < 1e-4, `max relative difference ${report.maxRel}`);
  assert.equal(report.packed, 0);
  assert.equal(report.inPlace, 0);
});
