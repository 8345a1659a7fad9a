/**
 * `--export FILE`: a sample of the generated orders written as Extended JSON, so ObjectIds and
 * Dates survive the trip through a file (`mongoimport --jsonArray` reads it back). The sample is
 * drawn while the orders stream past (reservoir sampling), so memory holds only the sample.
 *
 * @module
 */

import { BSON } from "mongodb";
import type { Order } from "../../core/model.ts";
import { SeededRandom } from "./random.ts";

/** A fixed-size, uniform, reproducible sample of a stream of orders. */
export class OrderSample {
  readonly #size: number;
  readonly #random: SeededRandom;
  readonly #kept: Order[] = [];
  #seen = 0;

  /**
   * @param size How many orders to keep at most.
   * @param seed Seeds which orders are kept.
   */
  constructor(size: number, seed: number) {
    this.#size = size;
    this.#random = new SeededRandom(seed, 3);
  }

  /**
   * Offers the next order of the stream.
   *
   * @param order An order; kept by reference, so do not change it afterwards.
   */
  offer(order: Order): void {
    this.#seen++;
    if (this.#kept.length < this.#size) {
      this.#kept.push(order);
      return;
    }
    const slot = this.#random.int(0, this.#seen - 1);
    if (slot < this.#size) this.#kept[slot] = order;
  }

  /**
   * The sampled orders, in order-number order.
   *
   * @returns At most `size` orders.
   */
  orders(): Order[] {
    return [...this.#kept].sort((a, b) =>
      a.numero_commande.length - b.numero_commande.length ||
      (a.numero_commande < b.numero_commande ? -1 : 1)
    );
  }
}

/**
 * The Extended JSON text of orders: a JSON array, one relaxed-mode order per line
 * (`{"$oid": …}` ids, `{"$date": …}` dates).
 *
 * @param orders The orders.
 * @returns The file's content.
 */
export function ordersToExtendedJson(orders: readonly Order[]): string {
  if (orders.length === 0) return "[]\n";
  const lines = orders.map((order) => `  ${BSON.EJSON.stringify(order, { relaxed: true })}`);
  return `[\n${lines.join(",\n")}\n]\n`;
}

/**
 * Writes orders to a file as Extended JSON.
 *
 * @param path The file to write (replaced if it exists).
 * @param orders The orders.
 */
export async function writeOrderSample(path: string, orders: readonly Order[]): Promise<void> {
  await Deno.writeTextFile(path, ordersToExtendedJson(orders));
}
