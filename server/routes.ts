/**
 * The server's routes, one named function each: they take the parsed request and return the
 * JSON reply, or throw an {@link HttpError}.
 * @module
 */
import type { OpenDomainQA } from "../pipeline/open_domain_qa.ts";
import { HttpError } from "./http_error.ts";
import type { PipelineLoader } from "./pipeline_loader.ts";
import { checkInt, checkKeys, checkText, describe } from "./validate.ts";

/** The request limits the routes check. */
export interface RouteLimits {
  /** Most texts in one `/embed` request. */
  maxTexts: number;
  /** Longest text or question in characters. */
  maxTextLength: number;
  /** Largest `k` / `topK`. */
  maxK: number;
}

/** What every route gets: the limits and the pipeline. */
export interface RouteContext {
  /** The request limits. */
  limits: RouteLimits;
  /** The pipeline, loaded on first use. */
  pipeline: PipelineLoader;
}

/** The reply of `GET /health`. */
export interface HealthReply {
  /** Always true: the server answers. */
  ok: true;
  /** Which models are loaded (they load on the first request). */
  models: { questionEncoder: boolean; contextEncoder: boolean; reader: boolean };
  /** Passages in the index, or null before it is loaded. */
  indexSize: number | null;
}

/**
 * `GET /health`: what is loaded (and the index's row count); never starts a load.
 * @param context the pipeline
 * @returns the health reply
 */
export async function healthRoute(context: RouteContext): Promise<HealthReply> {
  const qa = context.pipeline.loaded;
  return {
    ok: true,
    models: {
      questionEncoder: qa !== null,
      contextEncoder: qa?.contextEncoder !== undefined,
      reader: qa?.reader !== undefined,
    },
    indexSize: qa === null ? null : await qa.index.count(),
  };
}

/**
 * `POST /embed`: question or passage vectors.
 * @param body `{texts, kind?, titles?}`
 * @param context limits and pipeline
 * @returns `{dim, embeddings}`
 */
export async function embedRoute(
  body: Record<string, unknown>,
  context: RouteContext,
): Promise<{ dim: number; embeddings: number[][] }> {
  const { maxTexts, maxTextLength } = context.limits;
  checkKeys(body, ["texts", "kind", "titles"]);
  const kind = body.kind ?? "question";
  if (kind !== "question" && kind !== "passage") {
    throw new HttpError(400, `kind must be "question" or "passage": received ${describe(kind)}`);
  }
  if (!Array.isArray(body.texts)) {
    throw new HttpError(400, `texts must be an array of strings: received ${describe(body.texts)}`);
  }
  if (body.texts.length === 0) throw new HttpError(400, "texts must not be empty");
  if (body.texts.length > maxTexts) {
    throw new HttpError(413, `texts has ${body.texts.length} items; the limit is ${maxTexts}`);
  }
  const texts = body.texts.map((t, i) => checkText(t, `texts[${i}]`, maxTextLength));
  const titles = body.titles === undefined
    ? undefined
    : checkTitles(body.titles, kind, texts.length, maxTextLength);
  if (kind === "question") {
    const qa = await context.pipeline.get();
    texts.forEach((t, i) => checkReadable(qa, t, `texts[${i}]`, false));
    return { dim: qa.index.dim, embeddings: toArrays(await qa.embedQuestions(texts)) };
  }
  const qa = await context.pipeline.withContextEncoder();
  const vectors = await qa.embedPassages(
    texts.map((text, i) => ({ title: titles?.[i] ?? "", text })),
  );
  return { dim: qa.index.dim, embeddings: toArrays(vectors) };
}

/**
 * `POST /search`: the passages nearest to a question.
 * @param body `{question, k?}`
 * @param context limits and pipeline
 * @returns `{hits}`
 */
export async function searchRoute(
  body: Record<string, unknown>,
  context: RouteContext,
): Promise<{ hits: Array<{ id: string; score: number; title: string; text: string }> }> {
  checkKeys(body, ["question", "k"]);
  const question = checkText(body.question, "question", context.limits.maxTextLength);
  const k = checkInt(body.k, "k", 10, context.limits.maxK);
  const qa = await context.pipeline.get();
  checkReadable(qa, question, "question", false);
  const hits = await qa.retrieve(question, k);
  return { hits: hits.map(({ id, score, title, text }) => ({ id, score, title, text })) };
}

/** One answer as `/answer` sends it. */
export interface AnswerReply {
  /** The answer text. */
  text: string;
  /** The reader's span score. */
  score: number;
  /** The reader's relevance logit for the passage. */
  relevanceScore: number;
  /** The retriever's score for the passage. */
  retrievalScore: number;
  /** Passage id. */
  passageId: string;
  /** Passage title. */
  title: string;
  /** Start of the answer in the passage text, or null. */
  start: number | null;
  /** End of the answer in the passage text, or null. */
  end: number | null;
}

/**
 * `POST /answer`: retrieve and read.
 * @param body `{question, topK?, numSpans?, maxAnswerLength?}`
 * @param context limits and pipeline
 * @returns `{answers}`
 */
export async function answerRoute(
  body: Record<string, unknown>,
  context: RouteContext,
): Promise<{ answers: AnswerReply[] }> {
  checkKeys(body, ["question", "topK", "numSpans", "maxAnswerLength"]);
  const question = checkText(body.question, "question", context.limits.maxTextLength);
  const topK = checkInt(body.topK, "topK", 10, context.limits.maxK);
  const numSpans = checkInt(body.numSpans, "numSpans", 3, 100);
  const maxAnswerLength = checkInt(body.maxAnswerLength, "maxAnswerLength", 10, 512);
  const qa = await context.pipeline.get();
  if (qa.reader === undefined) {
    throw new HttpError(404, "this server has no reader (retrieval only); use /search");
  }
  checkReadable(qa, question, "question", true);
  const answers = await qa.answer(question, { topK, numSpans, maxAnswerLength });
  return {
    answers: answers.map((a) => ({
      text: a.text,
      score: a.score,
      relevanceScore: a.relevanceScore,
      retrievalScore: a.retrievalScore,
      passageId: a.passageId,
      title: a.title,
      start: a.start,
      end: a.end,
    })),
  };
}

function checkTitles(
  value: unknown,
  kind: string,
  count: number,
  maxTextLength: number,
): string[] {
  if (kind !== "passage") throw new HttpError(400, 'titles are only used with kind "passage"');
  if (!Array.isArray(value) || value.length !== count) {
    throw new HttpError(400, `titles must be an array of ${count} strings`);
  }
  return value.map((t, i) => {
    if (typeof t !== "string") {
      throw new HttpError(400, `titles[${i}] must be a string: received ${describe(t)}`);
    }
    if (t.length > maxTextLength) {
      throw new HttpError(
        413,
        `titles[${i}] has ${t.length} characters; the limit is ${maxTextLength}`,
      );
    }
    return t;
  });
}

/**
 * Refuses a question the models cannot read whole: more tokens than the question encoder's
 * limit, or (for the reader) more than half of the reader's row, which must leave room for the
 * passage. Encoders that cannot count tokens are not checked.
 */
function checkReadable(qa: OpenDomainQA, text: string, name: string, read: boolean): void {
  const encoder = qa.questionEncoder;
  if (encoder.countTokens === undefined || encoder.maxLength === undefined) return;
  const tokens = encoder.countTokens(text);
  if (tokens <= 2) {
    throw new HttpError(
      400,
      `${name} has no tokens the model can read: received ${describe(text)}`,
    );
  }
  if (tokens > encoder.maxLength) {
    throw new HttpError(
      400,
      `${name} has ${tokens} tokens; the question encoder reads at most ${encoder.maxLength}`,
    );
  }
  const rowLength = qa.reader?.maxLength;
  if (read && rowLength !== undefined && tokens > Math.floor(rowLength / 2)) {
    throw new HttpError(
      400,
      `${name} has ${tokens} tokens; the reader reads ${rowLength} per passage and a question ` +
        `may take at most half (${Math.floor(rowLength / 2)}) so the passage fits`,
    );
  }
}

function toArrays(vectors: readonly Float32Array[]): number[][] {
  return vectors.map((v) => Array.from(v));
}
