/**
 * Opt-in CORS for one origin (or `*`): the allow-origin header on every reply and preflight
 * (`OPTIONS`) answers. Without an origin configured the server sends no CORS headers at all.
 * @module
 */

/**
 * Checks a configured CORS origin: `*` or an origin such as `https://example.com` (scheme, host
 * and port only).
 * @param origin the option's value
 * @returns the origin
 */
export function checkCorsOrigin(origin: unknown): string {
  if (origin === "*") return origin;
  let parsed: URL | null = null;
  try {
    if (typeof origin === "string") parsed = new URL(origin);
  } catch {
    parsed = null;
  }
  if (parsed === null || parsed.origin === "null" || parsed.origin !== origin) {
    throw new TypeError(
      `Cannot create a handler: cors must be "*" or an origin like "https://example.com" ` +
        `(no path, no trailing slash): received ${JSON.stringify(origin)}`,
    );
  }
  return origin;
}

/**
 * The headers every reply carries for a configured origin.
 * @param origin the configured origin
 * @returns the headers
 */
export function corsHeaders(origin: string): Record<string, string> {
  return origin === "*"
    ? { "access-control-allow-origin": "*" }
    : { "access-control-allow-origin": origin, vary: "origin" };
}

/**
 * The answer to a preflight request for a route.
 * @param origin the configured origin
 * @param methods the methods the route allows
 * @returns a 204 response
 */
export function preflightResponse(origin: string, methods: readonly string[]): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(origin),
      "access-control-allow-methods": [...methods, "OPTIONS"].join(", "),
      "access-control-allow-headers": "content-type",
      "access-control-max-age": "600",
    },
  });
}
