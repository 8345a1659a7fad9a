/**
 * Samples written as Extended JSON, so ObjectIds and Dates survive the trip through a file
 * (`mongoimport --jsonArray` reads them back): a JSON array, one relaxed-mode document per line.
 * `archiver simulate --export` and `archiver batch --export` both write this way.
 *
 * @module
 */

import { BSON } from "mongodb";
import { PRIVATE_FILE_MODE, writeFileAtomic } from "./atomic_file.ts";

/**
 * The Extended JSON text of documents (`{"$oid": …}` ids, `{"$date": …}` dates).
 *
 * @param documents The documents.
 * @returns A JSON array, one document per line.
 */
export function toExtendedJson(documents: readonly object[]): string {
  if (documents.length === 0) return "[]\n";
  const lines = documents.map((document) =>
    `  ${BSON.EJSON.stringify(document, { relaxed: true })}`
  );
  return `[\n${lines.join(",\n")}\n]\n`;
}

/**
 * Writes documents to a file as Extended JSON, replacing it atomically, readable by its owner only
 * (orders carry clients' names and addresses).
 *
 * @param path The file.
 * @param documents The documents.
 */
export async function writeExtendedJson(path: string, documents: readonly object[]): Promise<void> {
  await writeFileAtomic(path, toExtendedJson(documents), { mode: PRIVATE_FILE_MODE });
}
