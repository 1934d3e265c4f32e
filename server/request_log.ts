/**
 * One log entry per request: method, route, status and milliseconds.
 * @module
 */

/** What is logged of one request. */
export interface RequestLogEntry {
  /** The HTTP method. */
  method: string;
  /** The route (`/search`, ...), or `-` for a path that is none. */
  route: string;
  /** The response status. */
  status: number;
  /** Milliseconds from the request's arrival to its response. */
  ms: number;
}

/**
 * Formats an entry as one line: `POST /search 200 12.3ms`.
 * @param entry the entry
 * @returns the line
 */
export function formatRequestLog(entry: RequestLogEntry): string {
  return `${entry.method} ${entry.route} ${entry.status} ${entry.ms.toFixed(1)}ms`;
}

/**
 * Writes an entry to stderr as one line.
 * @param entry the entry
 */
export function logToStderr(entry: RequestLogEntry): void {
  console.error(formatRequestLog(entry));
}
