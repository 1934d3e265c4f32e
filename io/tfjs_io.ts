/**
 * A tfjs `IOHandler` over a converted folder (local path, URL, hub id or any FileSource), so
 * `tf.loadLayersModel` can read it where tfjs has no file-system loader (Deno):
 *
 * ```ts ignore
 * import { tfl } from "@dpr/dpr/tf";
 * import "../models/dpr_question_encoder.ts"; // registers the custom layers
 * const model = await tfl.loadLayersModel(convertedFolderHandler("out/question_encoder"));
 * ```
 * @module
 */
import type { tf } from "../backend/tf.ts";
import type { FileSource } from "./file_source.ts";
import { readJson } from "./file_source.ts";
import type { PretrainedOptions } from "./resolve.ts";
import { resolveSource } from "./resolve.ts";
import type { ManifestGroup } from "./tfjs_artifacts.ts";

/** tfjs's model loader interface (`tf.io.IOHandler`), as `tf.loadLayersModel` takes it. */
export type ModelIOHandler = tf.io.IOHandler;

/**
 * Makes an IOHandler that loads `model.json` and its weight shards from a converted folder.
 * @param source a folder path, URL, hub id or FileSource
 * @param options hub and fetch options
 * @returns the handler for `tf.loadLayersModel`
 */
export function convertedFolderHandler(
  source: string | FileSource,
  options: PretrainedOptions = {},
): ModelIOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const files = await resolveSource(source, options);
      const json = await readJson(files, "model.json") as
        | {
          format?: string;
          generatedBy?: string;
          convertedBy?: string;
          modelTopology?: unknown;
          weightsManifest?: ManifestGroup[];
          userDefinedMetadata?: Record<string, unknown>;
        }
        | null;
      if (json === null) throw new RangeError(`Cannot load ${files.description}: no model.json`);
      if (json.format !== "layers-model" || json.modelTopology === undefined) {
        throw new TypeError(
          `Cannot load ${files.description} as a tfjs layers model: model.json has format ` +
            `${JSON.stringify(json.format)} (convert with the default layers-model layout)`,
        );
      }
      const groups = json.weightsManifest ?? [];
      const parts: Uint8Array[] = [];
      let total = 0;
      for (const group of groups) {
        for (const path of group.paths) {
          const bytes = await files.readFile(path);
          if (bytes === null) {
            throw new RangeError(`Cannot load ${files.description}: shard ${path} is missing`);
          }
          parts.push(bytes);
          total += bytes.length;
        }
      }
      const weightData = new Uint8Array(total);
      let p = 0;
      for (const part of parts) {
        weightData.set(part, p);
        p += part.length;
      }
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? null,
        weightSpecs: groups.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
        weightData: weightData.buffer,
        userDefinedMetadata: json
          .userDefinedMetadata as tf.io.ModelArtifacts["userDefinedMetadata"],
      };
    },
  };
}
