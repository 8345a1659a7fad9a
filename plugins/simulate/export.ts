/**
 * `--export FILE`: the sample of the generated orders that is written as Extended JSON (by
 * `core/runtime/extended_json.ts`). The sample is drawn while the orders stream past (reservoir
 * sampling), so memory holds only the sample.
 *
 * @module
 */

import type { Order } from "../../core/archive/model.ts";
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
