/**
 * `resolveSource`: turns a model source string (a local folder, an http(s) URL or a hub id) into
 * a {@linkcode FileSource}. Kept apart from the weight readers so tokenizers can use it cheaply.
 * @module
 */
import { type FileSource, LocalFolderSource } from "./file_source.ts";
import { type HubOptions, HubSource, isHubId } from "./hub_source.ts";
import { UrlSource } from "./url_source.ts";

/**
 * Turns a source string into a {@linkcode FileSource}: an existing local folder, an http(s) URL,
 * or a hub id such as `org/name`.
 * @param source a path, URL, hub id or an existing FileSource
 * @param options hub and fetch options
 * @returns the file source
 */
export async function resolveSource(
  source: string | FileSource,
  options: HubOptions = {},
): Promise<FileSource> {
  if (typeof source !== "string") return source;
  if (/^https?:\/\//i.test(source)) {
    const token = options.token;
    return new UrlSource(
      source,
      token === undefined ? { fetch: options.fetch } : {
        fetch: options.fetch,
        token,
      },
    );
  }
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(source)).isDirectory;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (isDirectory) return new LocalFolderSource(source);
  const looksLocal = /^(\.{0,2}\/|[A-Za-z]:\\)/.test(source);
  if (!looksLocal && isHubId(source)) return new HubSource(source, options);
  throw new RangeError(
    `Cannot resolve ${JSON.stringify(source)}: it is not an existing folder, an http(s) URL or ` +
      `a hub id like org/name`,
  );
}
