/**
 * Text snapshots under `tests/__snapshots__/`: a mismatch fails with both texts; run the tests
 * with `UPDATE_SNAPSHOTS=1` to accept a change on purpose (and review it in the diff).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";

const DIR = fromFileUrl(new URL("../__snapshots__/", import.meta.url));

/**
 * Compares a text with its stored snapshot.
 *
 * @param name The snapshot's file name, without extension.
 * @param actual The text produced now.
 */
export async function assertSnapshot(name: string, actual: string): Promise<void> {
  const path = `${DIR}${name}.txt`;
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") {
    await Deno.mkdir(DIR, { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(path);
  } catch {
    throw new Error(`No snapshot ${name}.txt: run the tests with UPDATE_SNAPSHOTS=1 to create it`);
  }
  assert.equal(actual, expected, `Snapshot ${name}.txt differs (UPDATE_SNAPSHOTS=1 to accept)`);
}
