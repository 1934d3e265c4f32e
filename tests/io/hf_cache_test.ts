// The Hugging Face cache: found where huggingface_hub finds it, and read as huggingface_hub lays it
// out (blobs named by etag, snapshot links, refs), offline, with no option given.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { defaultCacheDir } from "../../io/hf_cache.ts";
import { resolvePretrained } from "../../io/resolve.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { gitBlobId } from "./hub_emulation.ts";

const FIXTURE = new URL("../fixtures/models/dpr-ctx_encoder-tiny/", import.meta.url).pathname;
const VARIABLES = [
  "DPR_CACHE",
  "HF_HUB_CACHE",
  "HF_HOME",
  "XDG_CACHE_HOME",
  "HOME",
  "HF_HUB_OFFLINE",
];

/** Runs `fn` with these variables set (undefined: unset), then puts the old values back. */
async function withEnv<T>(values: Record<string, string | undefined>, fn: () => T): Promise<T> {
  const before = new Map(VARIABLES.map((name) => [name, Deno.env.get(name)]));
  try {
    for (const name of VARIABLES) {
      const value = values[name];
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
    return await fn();
  } finally {
    for (const [name, value] of before) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

Deno.test("the cache folder: DPR_CACHE, HF_HUB_CACHE, HF_HOME/hub, then XDG or ~/.cache", async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ HOME: "/h" }, "/h/.cache/huggingface/hub"],
    [{ HOME: "/h", XDG_CACHE_HOME: "/x" }, "/x/huggingface/hub"],
    [{ HOME: "/h", XDG_CACHE_HOME: "/x", HF_HOME: "/hf" }, "/hf/hub"],
    [{ HOME: "/h", HF_HOME: "/hf", HF_HUB_CACHE: "/hc" }, "/hc"],
    [{ HOME: "/h", HF_HUB_CACHE: "/hc", DPR_CACHE: "/dpr" }, "/dpr"],
  ];
  for (const [values, want] of cases) {
    assert.equal(await withEnv(values, defaultCacheDir), want, JSON.stringify(values));
  }
  await assert.rejects(
    () => withEnv({}, defaultCacheDir),
    /set HF_HOME, HF_HUB_CACHE or DPR_CACHE/,
  );
});

Deno.test("a cache laid out by huggingface_hub loads offline from HF_HOME; a missing file says so", async () => {
  const home = await Deno.makeTempDir();
  try {
    // What `hf_hub_download` leaves: blobs by etag, relative links at the commit, refs/main.
    const repo = `${home}/hub/models--facebook--dpr-ctx_encoder-tiny`;
    const commit = "2222222222222222222222222222222222222222";
    await Deno.mkdir(`${repo}/blobs`, { recursive: true });
    await Deno.mkdir(`${repo}/snapshots/${commit}`, { recursive: true });
    await Deno.mkdir(`${repo}/refs`);
    await Deno.writeTextFile(`${repo}/refs/main`, commit);
    for (const file of ["config.json", "model.safetensors"]) {
      const bytes = await Deno.readFile(`${FIXTURE}${file}`);
      const etag = file.endsWith(".safetensors")
        ? createHash("sha256").update(bytes).digest("hex")
        : gitBlobId(bytes);
      await Deno.writeFile(`${repo}/blobs/${etag}`, bytes);
      await Deno.symlink(`../../blobs/${etag}`, `${repo}/snapshots/${commit}/${file}`);
    }
    const loaded = await withEnv(
      { HF_HOME: home, HF_HUB_OFFLINE: "1" },
      () => resolvePretrained("facebook/dpr-ctx_encoder-tiny", { progress: false }),
    );
    assert.equal(loaded.format, "safetensors");
    assert.deepEqual(
      loaded.stateDict,
      readSafetensors(await Deno.readFile(`${FIXTURE}model.safetensors`)),
    );
    await assert.rejects(
      () =>
        withEnv(
          { HF_HOME: home, HF_HUB_OFFLINE: "1" },
          () => loaded.source.readFile("vocab.txt"),
        ),
      /Cannot read vocab\.txt of facebook\/dpr-ctx_encoder-tiny@main: it is not in the cache \(.*models--facebook--dpr-ctx_encoder-tiny\) and downloads are off \(offline\)/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
