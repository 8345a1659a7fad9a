/**
 * Counts written as people write them: "1 order", "2 orders", "0 orders". One helper for the
 * tool's messages, so no line says "Archived 1 orders".
 *
 * @module
 */

/**
 * A count and its noun, singular for exactly one.
 *
 * @param count The number.
 * @param singular The noun for one (`order`).
 * @param plural The noun for other counts. @default singular + "s"
 * @returns `1 order`, `2 orders`; large counts grouped as the operators read them is left to the
 * caller (log lines keep plain digits, which the log monitor reads back).
 * @example
 * ```ts
 * counted(1, "order"); // "1 order"
 * counted(3, "entry", "entries"); // "3 entries"
 * ```
 */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
