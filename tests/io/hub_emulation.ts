/**
 * What the Hugging Face hub sends with a file, for the tests' local hub emulations: the
 * repository's commit (`X-Repo-Commit`) and the file's etag, the git blob id of its bytes as the
 * hub gives for small files (large ones carry their sha256 in `X-Linked-Etag` on a redirect).
 * @module
 */
import { createHash } from "node:crypto";

/** The commit the emulated repositories are at. */
export const TEST_COMMIT = "1111111111111111111111111111111111111111";

/**
 * The git blob id of some bytes (sha1 of `blob <size>\0` and the bytes).
 * @param bytes the file's content
 * @returns 40 hex digits
 */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/**
 * The headers the hub sends with a small file.
 * @param bytes the file's content
 * @param commit the repository's commit; default {@link TEST_COMMIT}
 * @returns `etag` and `x-repo-commit`
 */
export function hubFileHeaders(bytes: Uint8Array, commit: string = TEST_COMMIT): Headers {
  return new Headers({ etag: `"${gitBlobId(bytes)}"`, "x-repo-commit": commit });
}
