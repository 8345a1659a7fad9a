/**
 * The orders named on the command line of `archiver quarantine show`, `retry` and `release`: an
 * `_id` in a form the shell writes (`ObjectId("…")`, a bare 24-hex string, `42`, `"A-1"`,
 * `{ shop: 3, n: 12 }`, Extended JSON), or an order number (`CMD-000042`, any other bare word).
 *
 * @module
 */

import { describeOrderId } from "../../core/archive/order_id.ts";
import { looksLikeOrderId, parseOrderId } from "../../core/archive/parse_order_id.ts";
import type { OrderSelector } from "../../core/archive/quarantine.ts";
import { ConfigError } from "../../core/runtime/errors.ts";

/** One argument, read. */
export interface OrderArgument {
  /** As typed. */
  text: string;
  /** The `_id` or the number it names. */
  selector: OrderSelector;
}

/**
 * Reads the arguments, all of them before anything runs, so a bad one writes nothing.
 *
 * @param texts The arguments as typed.
 * @returns One selector each.
 * @throws {ConfigError} On the first that is empty or parses to no `_id` (exit 2).
 */
export function parseOrderArguments(texts: readonly string[]): OrderArgument[] {
  return texts.map((text) => {
    if (text.trim() === "") {
      throw new ConfigError(`Cannot read "" as an order: give an _id or an order number`);
    }
    if (!looksLikeOrderId(text)) return { text, selector: { numero_commande: text.trim() } };
    try {
      return { text, selector: { _id: parseOrderId(text) } };
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${JSON.stringify(text)} as an order _id: ${(error as Error).message}`,
        { cause: error },
      );
    }
  });
}

/**
 * An argument in words: `_id ObjectId("…")` or `number "CMD-000042"`.
 *
 * @param selector What it names.
 * @returns The words.
 */
export function describeSelector(selector: OrderSelector): string {
  return "_id" in selector
    ? `_id ${describeOrderId(selector._id)}`
    : `number ${JSON.stringify(selector.numero_commande)}`;
}
