/**
 * Streaming readers for passage collections in DPR's formats.
 *
 * - TSV (`.tsv`): a header line naming the columns (`id`, `text`, `title`, in any order; `title`
 *   may be absent), then one passage per line, tab-separated, with Python `csv` quoting: a field
 *   that starts with `"` runs to the next lone `"`, `""` inside it stands for `"`, and it may hold
 *   tabs and newlines. This is how DPR's `psgs_w100.tsv` is written.
 * - JSONL (`.jsonl`): one object per line, `{"id": ..., "text": ..., "title": ...}`; `id` may be
 *   a string or a number, `title` may be absent.
 *
 * Either may be gzip-compressed (`.gz` suffix). Files are read as a stream, never whole.
 * @module
 */

/** One passage of a collection. */
export interface Passage {
  /** The passage id, as a string. */
  id: string;
  /** The passage body. */
  text: string;
  /** The title of the article it comes from ("" when there is none). */
  title: string;
}

/** The formats {@link readPassages} understands. */
export type PassageFormat = "tsv" | "jsonl";

/** Options for {@link readPassages}. */
export interface ReadPassagesOptions {
  /** The format; by default taken from the file name (`.tsv`, `.jsonl`, optionally `.gz`). */
  format?: PassageFormat;
  /** Called as bytes of the (compressed) input are consumed, with the running total. */
  onBytes?: (bytesRead: number) => void;
  /** Name used in error messages when the input is a stream. */
  name?: string;
}

/**
 * The format a file name implies, or undefined.
 * @param path a file name or path
 * @returns "tsv", "jsonl" or undefined
 */
export function formatFromName(path: string): PassageFormat | undefined {
  const name = path.toLowerCase().replace(/\.gz$/, "");
  if (name.endsWith(".tsv") || name.endsWith(".csv")) return "tsv";
  if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return "jsonl";
  return undefined;
}

/**
 * Streams the passages of a TSV or JSONL collection.
 * @param input a file path or a byte stream
 * @param options format, progress callback and name
 * @returns the passages in file order
 */
export async function* readPassages(
  input: string | ReadableStream<Uint8Array>,
  options: ReadPassagesOptions = {},
): AsyncGenerator<Passage> {
  const name = typeof input === "string" ? input : options.name ?? "passage stream";
  const format = options.format ?? formatFromName(name);
  if (format === undefined) {
    throw new RangeError(
      `Cannot read passages from ${name}: unknown format; use a .tsv or .jsonl name or pass format`,
    );
  }
  let stream: ReadableStream<Uint8Array>;
  if (typeof input === "string") {
    const file = await Deno.open(input, { read: true });
    stream = file.readable;
  } else {
    stream = input;
  }
  let bytes = 0;
  const counted = stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.length;
        options.onBytes?.(bytes);
        controller.enqueue(chunk);
      },
    }),
  );
  const gz = name.toLowerCase().endsWith(".gz");
  const decoded = gz
    ? counted.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    )
    : counted;
  const lines = readLines(
    decoded.pipeThrough(new TextDecoderStream("utf-8", { fatal: true })),
    name,
    gz,
  );
  if (format === "jsonl") yield* parseJsonl(lines, name);
  else yield* parseTsv(lines, name);
}

async function* readLines(
  text: ReadableStream<string>,
  name: string,
  gz: boolean,
): AsyncGenerator<string> {
  let rest = "";
  let lineNo = 0;
  let finished = false;
  const reader = text.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<string>;
      try {
        next = await reader.read();
      } catch (error) {
        // The decoders fail with bare TypeErrors that name neither the file nor the place.
        if (!(error instanceof TypeError)) throw error;
        const what = /encoded data is not valid/i.test(error.message)
          ? "it is not valid UTF-8"
          : gz
          ? "it is not a valid gzip file (truncated or corrupt?)"
          : "it cannot be decoded";
        throw new SyntaxError(
          `Cannot read ${name}: ${what}, after line ${lineNo}: ${error.message}`,
        );
      }
      if (next.done) {
        finished = true;
        break;
      }
      rest += next.value;
      let start = 0;
      let nl: number;
      while ((nl = rest.indexOf("\n", start)) !== -1) {
        lineNo++;
        yield rest.slice(start, nl).replace(/\r$/, "");
        start = nl + 1;
      }
      rest = rest.slice(start);
    }
  } finally {
    // A consumer that stops early (or an error) must not leave the file open.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (rest !== "") yield rest.replace(/\r$/, "");
}

async function* parseJsonl(lines: AsyncGenerator<string>, name: string): AsyncGenerator<Passage> {
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`Cannot read ${name}: line ${lineNo}: ${(error as Error).message}`);
    }
    yield toPassage(value, `${name}: line ${lineNo}`);
  }
}

/**
 * Checks that a parsed JSON value is a passage object and normalises it.
 * @param value a parsed JSON value
 * @param where location for error messages
 * @returns the passage
 */
export function toPassage(value: unknown, where: string): Passage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Cannot read ${where}: a passage must be a JSON object`);
  }
  const obj = value as Record<string, unknown>;
  const id = obj.id;
  if (typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id))) {
    throw new TypeError(
      `Cannot read ${where}: "id" must be a string or a number: received ${JSON.stringify(id)}`,
    );
  }
  if (typeof obj.text !== "string") {
    throw new TypeError(
      `Cannot read ${where}: "text" must be a string: received ${JSON.stringify(obj.text)}`,
    );
  }
  if (obj.title !== undefined && obj.title !== null && typeof obj.title !== "string") {
    throw new TypeError(
      `Cannot read ${where}: "title" must be a string: received ${JSON.stringify(obj.title)}`,
    );
  }
  return { id: String(id), text: obj.text, title: (obj.title as string | undefined) ?? "" };
}

/**
 * Splits one record of tab-separated fields with Python `csv` quoting.
 * @param record the record's text (may contain newlines inside quoted fields)
 * @returns the fields, or null when the record ends inside a quoted field
 */
export function splitTsvRecord(record: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (record[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = record.indexOf('"', i);
        if (q === -1) return null;
        value += record.slice(i, q);
        if (record[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Like Python's csv, text after the closing quote up to the delimiter is kept.
      const tab = record.indexOf("\t", i);
      const end = tab === -1 ? record.length : tab;
      value += record.slice(i, end);
      fields.push(value);
      if (tab === -1) return fields;
      i = tab + 1;
    } else {
      const tab = record.indexOf("\t", i);
      if (tab === -1) {
        fields.push(record.slice(i));
        return fields;
      }
      fields.push(record.slice(i, tab));
      i = tab + 1;
    }
  }
}

async function* parseTsv(lines: AsyncGenerator<string>, name: string): AsyncGenerator<Passage> {
  let lineNo = 0;
  let columns: { id: number; text: number; title: number } | null = null;
  let pending: string | null = null;
  let pendingStart = 0;
  for await (const line of lines) {
    lineNo++;
    const record: string = pending === null ? line : pending + "\n" + line;
    if (pending === null) pendingStart = lineNo;
    if (record === "" && pending === null) continue;
    const fields = splitTsvRecord(record);
    if (fields === null) {
      pending = record;
      continue;
    }
    pending = null;
    if (columns === null) {
      const lower = fields.map((f) => f.trim().toLowerCase());
      columns = {
        id: lower.indexOf("id"),
        text: lower.indexOf("text"),
        title: lower.indexOf("title"),
      };
      if (columns.id === -1 || columns.text === -1) {
        throw new SyntaxError(
          `Cannot read ${name}: line 1 must be a header naming the columns id, text and title: ` +
            `received ${JSON.stringify(fields)}`,
        );
      }
      continue;
    }
    const id = fields[columns.id];
    const text = fields[columns.text];
    const title = columns.title === -1 ? "" : fields[columns.title];
    if (id === undefined || text === undefined || title === undefined) {
      throw new SyntaxError(
        `Cannot read ${name}: line ${pendingStart}: expected at least ` +
          `${Math.max(columns.id, columns.text, columns.title) + 1} tab-separated fields: ` +
          `received ${fields.length}`,
      );
    }
    yield { id, text, title };
  }
  if (pending !== null) {
    throw new SyntaxError(`Cannot read ${name}: line ${pendingStart}: unterminated quoted field`);
  }
  if (columns === null) {
    throw new SyntaxError(`Cannot read ${name}: the file is empty (a header line is required)`);
  }
}
