/**
 * The server's pipeline, loaded on first use: the index and question encoder (and the reader,
 * unless retrieval-only) on the first request, the context encoder on the first passage
 * embedding. A failed load is retried by the next request.
 * @module
 */
import type { OpenIndexOptions } from "../index/open_index.ts";
import type { VectorIndex } from "../index/vector_index.ts";
import type { DenseEncoder } from "../pipeline/dense_encoder.ts";
import { type DprModelSources, loadDenseEncoder } from "../pipeline/dpr_models.ts";
import { OpenDomainQA } from "../pipeline/open_domain_qa.ts";

/** Where the pipeline comes from. */
export interface PipelineSource extends DprModelSources {
  /** A ready pipeline (or its promise). */
  qa?: OpenDomainQA | Promise<OpenDomainQA>;
  /** The index: a location (see `openIndex`) or an open index (needed when `qa` is not given). */
  index?: string | VectorIndex;
  /** Options for opening `index` when it is a location (see `openIndex`: `rescore`, `oversample`). */
  indexOptions?: OpenIndexOptions;
  /** Retrieval only: the reader is never loaded and `/answer` answers 404. */
  noReader?: boolean;
}

/** Loads the pipeline once, on demand. */
export class PipelineLoader {
  readonly #source: PipelineSource;
  #qa: Promise<OpenDomainQA> | null;
  #ready: OpenDomainQA | null = null;
  #context: Promise<DenseEncoder> | null = null;

  /** @param source a pipeline, or where to load one from */
  constructor(source: PipelineSource) {
    this.#source = source;
    this.#qa = source.qa === undefined ? null : this.#track(Promise.resolve(source.qa));
  }

  /** The pipeline if it has loaded, without starting a load. */
  get loaded(): OpenDomainQA | null {
    return this.#ready;
  }

  /**
   * The pipeline, loading it on the first call.
   * @returns the pipeline
   */
  get(): Promise<OpenDomainQA> {
    if (this.#qa === null) {
      const index = this.#source.index;
      if (index === undefined) {
        return Promise.reject(new Error("the handler has neither a pipeline (qa) nor an index"));
      }
      const { qa: _, ...sources } = this.#source;
      this.#qa = this.#track(OpenDomainQA.fromPretrained({ ...sources, index }));
      // A failed load is retried by the next request.
      this.#qa.catch(() => this.#qa = null);
    }
    return this.#qa;
  }

  /**
   * The pipeline with a context encoder, loading the encoder on the first call.
   * @returns the pipeline
   */
  async withContextEncoder(): Promise<OpenDomainQA> {
    const qa = await this.get();
    if (qa.contextEncoder !== undefined) return qa;
    this.#context ??= loadDenseEncoder("context", this.#source);
    this.#context.catch(() => this.#context = null);
    const contextEncoder = await this.#context;
    const current = await this.get();
    if (current.contextEncoder !== undefined) return current;
    const upgraded = new OpenDomainQA({
      questionEncoder: current.questionEncoder,
      contextEncoder,
      reader: current.reader,
      index: current.index,
    });
    this.#qa = this.#track(Promise.resolve(upgraded));
    return upgraded;
  }

  #track(qa: Promise<OpenDomainQA>): Promise<OpenDomainQA> {
    qa.then((ready) => this.#ready = ready, () => {});
    return qa;
  }
}
