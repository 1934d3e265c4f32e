/**
 * An encoding job writing into an index (a Postgres table, say) in place of chunk folders: what
 * it checks before resuming. An index with a job ledger ({@link EncodeJobLedger}) keeps the job's
 * settings and each chunk's passage digest, written with the chunk's rows; a re-run with other
 * settings (model, token types, chunk size) or over changed passages is refused, naming what
 * differs, and the same job resumes. Without a ledger a chunk counts as done when its ids are
 * stored.
 * @module
 */
import type { VectorBatch, VectorIndex } from "../index/vector_index.ts";

/**
 * Records the job's settings in the index's ledger, or checks them against those recorded.
 * @param target the index
 * @param settings the settings that must not change between runs
 * @throws {RangeError} when the index holds another job
 */
export async function claimIndexJob(
  target: VectorIndex,
  settings: Record<string, unknown>,
): Promise<void> {
  const ledger = target.jobLedger;
  if (ledger === undefined) return;
  const now = JSON.stringify(settings);
  const recorded = await ledger.recordJob(now);
  if (recorded !== now) {
    throw new RangeError(
      `Cannot resume the encoding job in ${ledger.location}: it holds a job with the settings ` +
        `${recorded}, this run's are ${now}. Refused, nothing was written: write into another ` +
        `table, or empty this one first`,
    );
  }
}

/**
 * Whether chunk `chunk` is stored whole (the job skips it); a chunk recorded from other passages
 * than the file holds now is refused.
 * @param target the index
 * @param chunk the chunk number
 * @param ids the ids of its passages, as read now
 * @param digest the digest of its passages, as read now
 * @param passages the passage file (for messages)
 * @returns true when the chunk is done
 */
export async function indexChunkDone(
  target: VectorIndex,
  chunk: number,
  ids: readonly string[],
  digest: string,
  passages: string,
): Promise<boolean> {
  const ledger = target.jobLedger;
  const [recorded] = ledger === undefined ? [undefined] : await ledger.chunkDigests([chunk]);
  if (recorded !== undefined && recorded !== null && recorded !== digest) {
    throw new RangeError(
      `Cannot resume the encoding job in ${ledger!.location}: chunk ${chunk} was encoded from ` +
        `other passages than ${passages} holds now (sha256 ${recorded}, now ${digest}); the ` +
        `passage file changed since. Refused, nothing was overwritten: write into another table`,
    );
  }
  const allStored = (await target.passages(ids)).every((p) => p !== null);
  if (allStored && recorded === null) {
    throw new RangeError(
      `Cannot resume the encoding job in ${ledger!.location}: the passages of chunk ${chunk} ` +
        `are stored but no job recorded them, so what they were encoded from is unknown. ` +
        `Refused, nothing was overwritten: write into another table`,
    );
  }
  // A recorded chunk with rows missing (removed since) is written again.
  return allStored;
}

/**
 * Writes a chunk: with its digest, in one transaction, where the index keeps a ledger.
 * @param target the index
 * @param chunk the chunk number
 * @param digest the digest of its passages
 * @param batch its rows
 */
export async function writeIndexChunk(
  target: VectorIndex,
  chunk: number,
  digest: string,
  batch: VectorBatch,
): Promise<void> {
  if (target.jobLedger === undefined) await target.upsert(batch);
  else await target.jobLedger.writeChunk(chunk, digest, batch);
}
