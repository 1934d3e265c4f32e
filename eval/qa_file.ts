/**
 * Reading DPR's question/answer files: one question per line, `question \t answers`, where
 * `answers` is a Python list literal such as `['Wilhelm Conrad Röntgen']` or a JSON array, and the
 * line follows Python `csv` quoting with a tab delimiter (so a field with a `"` is written in
 * double quotes with the quote doubled). Files ending in `.jsonl` hold `{"question", "answers"}`
 * objects instead.
 * @module
 */
import { splitTsvRecord } from "../pipeline/passages.ts";

/** One evaluation question. */
export interface QaPair {
  /** The question. */
  question: string;
  /** The accepted answers (or regular expressions, for regex matching). */
  answers: string[];
}

/**
 * Parses a Python list of string literals (single or double quoted, with backslash escapes,
 * optional `u`/`r` prefixes) or a JSON array of strings.
 * @param text the literal
 * @param where location for error messages
 * @returns the strings
 */
export function parseAnswerList(text: string, where = "answers"): string[] {
  const out: string[] = [];
  let i = 0;
  const fail = (rule: string): never => {
    throw new SyntaxError(
      `Cannot read ${where}: ${rule} at character ${i}: ${JSON.stringify(text.slice(0, 80))}`,
    );
  };
  const skip = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skip();
  if (text[i] !== "[") fail("expected a list starting with [");
  i++;
  skip();
  if (text[i] === "]") {
    i++;
  } else {
    for (;;) {
      skip();
      let raw = false;
      while (/[uUrRbB]/.test(text[i] ?? "")) {
        if (/[rR]/.test(text[i]!)) raw = true;
        i++;
      }
      const quote = text[i];
      if (quote !== "'" && quote !== '"') fail("expected a quoted string");
      i++;
      let value = "";
      for (;;) {
        if (i >= text.length) fail("unterminated string");
        const ch = text[i]!;
        if (ch === quote) {
          i++;
          break;
        }
        if (ch === "\\" && i + 1 < text.length) {
          const next = text[i + 1]!;
          if (raw) {
            value += ch + next;
            i += 2;
            continue;
          }
          const simple: Record<string, string> = {
            "\\": "\\",
            "'": "'",
            '"': '"',
            n: "\n",
            t: "\t",
            r: "\r",
            b: "\b",
            f: "\f",
            "/": "/",
            "0": "\0",
          };
          if (next in simple) {
            value += simple[next];
            i += 2;
          } else if (next === "x" || next === "u" || next === "U") {
            const len = next === "x" ? 2 : next === "u" ? 4 : 8;
            const hex = text.slice(i + 2, i + 2 + len);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail("bad escape");
            value += String.fromCodePoint(parseInt(hex, 16));
            i += 2 + len;
          } else {
            value += ch + next; // Python keeps unknown escapes as written
            i += 2;
          }
          continue;
        }
        value += ch;
        i++;
      }
      out.push(value);
      skip();
      if (text[i] === ",") {
        i++;
        skip();
        if (text[i] === "]") {
          i++;
          break;
        }
        continue;
      }
      if (text[i] === "]") {
        i++;
        break;
      }
      fail("expected , or ]");
    }
  }
  skip();
  if (i !== text.length) fail("unexpected text after the list");
  return out;
}

/**
 * DPR's retriever JSON (`nq-dev.json` and the like): a list of objects with `question` and
 * `answers` (other keys, such as `positive_ctxs`, are ignored).
 */
function parseQaJson(text: string, name: string): QaPair[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot read ${name}: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) {
    throw new TypeError(`Cannot read ${name}: a .json QA file must hold a list of questions`);
  }
  return value.map((item: unknown, i: number): QaPair => {
    const v = item as { question?: unknown; answers?: unknown } | null;
    if (
      typeof v?.question !== "string" || !Array.isArray(v.answers) ||
      !v.answers.every((a) => typeof a === "string")
    ) {
      throw new TypeError(
        `Cannot read ${name}: item ${i} must be {"question": string, "answers": string[]}`,
      );
    }
    return { question: v.question, answers: v.answers as string[] };
  });
}

/**
 * Parses a whole QA file's text.
 * @param text the file's contents
 * @param name the file's name, for error messages (a `.jsonl` name selects JSONL, a `.json` name
 *   DPR's retriever JSON list; anything else is DPR's `question<TAB>answers` TSV)
 * @returns the questions in file order
 */
export function parseQaFile(text: string, name: string): QaPair[] {
  const out: QaPair[] = [];
  if (name.toLowerCase().endsWith(".json")) return parseQaJson(text, name);
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  if (name.toLowerCase().endsWith(".jsonl")) {
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new SyntaxError(`Cannot read ${name}: line ${i + 1}: ${(error as Error).message}`);
      }
      const v = value as { question?: unknown; answers?: unknown };
      if (
        typeof v?.question !== "string" || !Array.isArray(v.answers) ||
        !v.answers.every((a) => typeof a === "string")
      ) {
        throw new TypeError(
          `Cannot read ${name}: line ${i + 1} must be {"question": string, "answers": string[]}`,
        );
      }
      out.push({ question: v.question, answers: v.answers as string[] });
    });
    return out;
  }
  let pending: string | null = null;
  let start = 0;
  lines.forEach((line, i) => {
    const record: string = pending === null ? line : pending + "\n" + line;
    if (pending === null) start = i + 1;
    if (record.trim() === "") return;
    const fields = splitTsvRecord(record);
    if (fields === null) {
      pending = record;
      return;
    }
    pending = null;
    if (fields.length < 2) {
      throw new SyntaxError(
        `Cannot read ${name}: line ${start} must be "question<TAB>answers": found no tab`,
      );
    }
    out.push({
      question: fields[0]!,
      answers: parseAnswerList(fields[1]!, `${name}: line ${start}`),
    });
  });
  if (pending !== null) {
    throw new SyntaxError(`Cannot read ${name}: line ${start}: unterminated quoted field`);
  }
  return out;
}

/**
 * Reads a QA file from disk.
 * @param path the file
 * @returns the questions in file order
 */
export async function readQaFile(path: string): Promise<QaPair[]> {
  return parseQaFile(await Deno.readTextFile(path), path);
}
