/**
 * The question encoder alone, as `deno task edge-check` measures it: a process that imports the
 * module, starts wasm on one thread, loads the question encoder from its folder with
 * `loadDenseEncoder` (as users do) and encodes questions one at a time, under Deploy's
 * permissions (`--allow-read --allow-net --allow-env`), with no server and no index.
 *
 * {@linkcode encoderAlone} runs this file as that child. The child stops after each stage
 * (started, module imported, wasm started, loaded, questions encoded) and prints one JSON line
 * with what the runtime reports there (V8's heap, external memory, the tfjs wasm heap, the int8
 * kernel memory); the parent reads the child's RSS and peak RSS (`VmHWM`) at that moment, then
 * lets it go on. So the peak is split by stage: what the runtime costs before any weight, what
 * loading adds, what questions add.
 * @module
 */
/** One stage of the child: what it reported and what the parent read of its memory. */
export interface EncoderStage {
  /** The stage's name. */
  stage: string;
  /** VmRSS then, in bytes. */
  rss: number;
  /** VmHWM (peak RSS so far), in bytes. */
  peak: number;
  /** V8's heap (`Deno.memoryUsage().heapTotal`), in bytes. */
  heapTotal: number;
  /** Memory of ArrayBuffers outside V8's heap (`Deno.memoryUsage().external`), in bytes. */
  external: number;
  /** tfjs-backend-wasm's heap (0 before wasm starts), in bytes. */
  wasmHeap: number;
  /** The int8 kernel memory (`backend/quantized/kernel_memory.ts`), in bytes. */
  kernelMemory: number;
}

/** What {@linkcode encoderAlone} measured. */
export interface EncoderAlone {
  /** Every stage, in order; the last one's `peak` is the process's peak RSS. */
  stages: EncoderStage[];
  /** Milliseconds from the start of the load to the encoder being ready. */
  loadMs: number;
}

/** Reads `VmRSS` and `VmHWM` of a process, in bytes. */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/**
 * Runs the question encoder alone in a child process and reads its memory at every stage.
 * @param folder the question encoder's folder
 * @param dtype the `dtype` to load with, or undefined for the folder's own (int8 for a
 *   `convert --quantize int8` folder, else float32)
 * @param questions the questions, encoded one at a time after loading
 * @returns the stages and the load time
 * @throws Error with the child's stderr when it fails
 */
export async function encoderAlone(
  folder: string,
  dtype: string | undefined,
  questions: readonly string[],
): Promise<EncoderAlone> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-net",
      "--allow-env",
      new URL(import.meta.url).pathname,
    ],
    env: {
      EDGE_CHECK_FOLDER: folder,
      EDGE_CHECK_DTYPE: dtype ?? "",
      EDGE_CHECK_QUESTIONS: JSON.stringify(questions),
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const stages: EncoderStage[] = [];
  let loadMs = NaN;
  try {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        stages.push({ ...line, ...rssOf(child.pid) });
        if (line.loadMs !== undefined) loadMs = line.loadMs;
        delete (stages.at(-1) as { loadMs?: number }).loadMs;
        await writer.write(new Uint8Array([10])); // go on
      }
    }
    const status = await child.status;
    if (!status.success || stages.at(-1)?.stage !== "questions") {
      throw new Error(`the encoder child failed (${status.code}):\n${await stderr}`);
    }
  } finally {
    await writer.close().catch(() => {});
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await stderr.catch(() => "");
  }
  return { stages, loadMs };
}

/** The child: reports each stage on stdout, then waits for a line on stdin. */
async function runChild(): Promise<void> {
  const folder = Deno.env.get("EDGE_CHECK_FOLDER")!;
  const dtype = Deno.env.get("EDGE_CHECK_DTYPE") || undefined;
  const questions = JSON.parse(Deno.env.get("EDGE_CHECK_QUESTIONS")!) as string[];
  const input = Deno.stdin.readable.getReader();
  let wasmHeap = () => 0, kernelMemory = () => 0;
  const stage = async (name: string, extra: Record<string, number> = {}) => {
    const { heapTotal, external } = Deno.memoryUsage();
    const line = {
      stage: name,
      heapTotal,
      external,
      wasmHeap: wasmHeap(),
      kernelMemory: kernelMemory(),
      ...extra,
    };
    await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(line) + "\n"));
    await input.read();
  };
  await stage("started");
  const { loadDenseEncoder, setBackend, tf } = await import("../mod.ts");
  const kernel = await import("../backend/quantized/kernel_memory.ts");
  kernelMemory = () => kernel.kernelMemory()?.byteLength ?? 0;
  await stage("imported");
  await setBackend("wasm", { threads: 1 });
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  wasmHeap = () => backend.wasm?.HEAPU8.byteLength ?? 0;
  await stage("wasm started");
  const started = performance.now();
  const encoder = await loadDenseEncoder("question", {
    questionEncoder: folder,
    ...(dtype === undefined ? {} : { dtype: dtype as "int8" }),
  });
  await stage("loaded", { loadMs: Math.round(performance.now() - started) });
  for (const question of questions) {
    await encoder.encodeQuestions([question]);
    await new Promise((resolve) => setTimeout(resolve, 0)); // as a server's requests arrive
  }
  await stage("questions");
  encoder.dispose();
}

if (import.meta.main) await runChild();
