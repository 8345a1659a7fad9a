/**
 * Isolating what the server refuses: one bad order never holds back another.
 *
 * @module
 */

import { describeError, errorKind } from "../mongo/errors.ts";

/** What {@link isolating} returns. */
export interface Isolated<T, R> {
  /** The work's results, over every group of items it accepted. */
  results: R[];
  /** The items refused on their own, with the server's reason. */
  refused: Array<{ item: T; reason: string }>;
}

/**
 * Runs `work` on all the items at once; when the server refuses it for a reason that may be one
 * item's data, splits the items in halves until each refusing item is alone, and returns those
 * with the server's reason. Costs one call when nothing is refused, about 2·log2(n) per refusing
 * item otherwise. Any other error (transient past its retries, deployment, internal) is thrown.
 *
 * @param items The items.
 * @param work What to do with a group of them.
 * @returns The results and the refused items.
 */
export async function isolating<T, R>(
  items: readonly T[],
  work: (items: readonly T[]) => Promise<R[]>,
): Promise<Isolated<T, R>> {
  if (items.length === 0) return { results: [], refused: [] };
  try {
    return { results: await work(items), refused: [] };
  } catch (error) {
    if (errorKind(error) !== "data") throw error;
    if (items.length === 1) {
      return { results: [], refused: [{ item: items[0]!, reason: describeError(error) }] };
    }
    const half = Math.ceil(items.length / 2);
    const first = await isolating(items.slice(0, half), work);
    const second = await isolating(items.slice(half), work);
    return {
      results: [...first.results, ...second.results],
      refused: [...first.refused, ...second.refused],
    };
  }
}
