/**
 * A request error with its HTTP status, and the JSON replies the server sends.
 * @module
 */

/** A request error with its HTTP status (and extra response headers, e.g. `allow`). */
export class HttpError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** Extra response headers. */
  readonly headers: Record<string, string>;
  /**
   * @param status the HTTP status
   * @param message what was wrong, for the client
   * @param headers extra response headers
   */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/**
 * A JSON response.
 * @param status the HTTP status
 * @param body the value to send as JSON
 * @param headers extra headers
 * @returns the response
 */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}
