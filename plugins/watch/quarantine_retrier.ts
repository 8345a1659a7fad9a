/**
 * The watcher's quarantine retries. Every retry interval, one round tries the quarantine's due
 * orders again, a micro-batch at a time, whichever process put them there. A round never serves
 * the same order twice: it keeps the ids it served (by {@link orderIdKey}) and reads further pages
 * until one brings nothing new. Orders that still cannot be archived were rescheduled by the core
 * (next attempt one interval or their backoff away), so between rounds the watcher asks the server
 * nothing.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ArchiveOutcome, OrderRef } from "../../core/archive/archiver.ts";
import { orderIdKey } from "../../core/archive/order_id.ts";
import type { Quarantine } from "../../core/archive/quarantine.ts";
import { describeError } from "../../core/mongo/errors.ts";
import { counted } from "../../core/runtime/plural.ts";
import type { WatchMetricsRecorder } from "../../core/stream/metrics.ts";
import type { WatchFigures } from "./figures.ts";

/** Options of {@link QuarantineRetrier}. */
export interface QuarantineRetrierOptions {
  /** Most orders tried together (`--batch-max`). */
  batchMax: number;
  /** Time between rounds, in ms (`--retry-interval`). */
  retryIntervalMs: number;
  /** Archives orders through the shared core (which records or releases them). */
  archive(orders: OrderRef[]): Promise<ArchiveOutcome>;
  /** Reads the due orders, retrying transient errors. */
  readDue(limit: number): Promise<OrderRef[]>;
  /** Where the outcomes are counted. */
  figures: Pick<WatchFigures, "retried">;
  /** The quarantine gauge, refreshed after each round when metrics are served. */
  gauge?: Pick<WatchMetricsRecorder, "setQuarantine">;
  /** Where a failed count of the quarantine is logged. */
  log: Logger;
  /** The current term's signal: a round stops when it is aborted. */
  signal: () => AbortSignal;
  /** The clock (tests). @default Date.now */
  now?: () => number;
}

/** Retries the quarantine on a timer. */
export class QuarantineRetrier {
  readonly #quarantine: Quarantine;
  readonly #options: QuarantineRetrierOptions;
  readonly #now: () => number;
  #retryAt = 0;

  /**
   * A retrier on the shared quarantine.
   *
   * @param quarantine The quarantine collection.
   * @param options Batch size, interval, how to archive and read, where to count.
   */
  constructor(quarantine: Quarantine, options: QuarantineRetrierOptions) {
    this.#quarantine = quarantine;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** A pass over the quarantine just happened (the catch-up): the next round waits an interval. */
  postpone(): void {
    this.#retryAt = this.#now() + this.#options.retryIntervalMs;
  }

  /**
   * Runs a round when the interval has passed.
   *
   * @returns How many orders the round recovered (0 when none ran).
   */
  async maybeRetry(): Promise<number> {
    if (this.#now() < this.#retryAt) return 0;
    this.postpone();
    try {
      return await this.round();
    } finally {
      // The next round is an interval after this one ended: the orders it left were rescheduled
      // an interval after their own attempt, later than the round's start, and would not be due
      // yet an interval after the start (each order would be tried every other interval).
      this.postpone();
      await this.refreshGauge();
    }
  }

  /**
   * One round: every due order is served once, a micro-batch at a time.
   *
   * @returns How many orders it recovered.
   */
  async round(): Promise<number> {
    const { batchMax, log } = this.#options;
    const served = new Set<string>();
    let recovered = 0;
    while (!this.#options.signal().aborted) {
      // Orders served this round may be due again already (a short interval, a slow archive):
      // read past them, and stop when a page brings nothing new.
      const limit = served.size + batchMax;
      const due = await this.#options.readDue(limit);
      const fresh = due.filter((order) => !served.has(orderIdKey(order._id))).slice(0, batchMax);
      if (fresh.length === 0) break;
      for (const order of fresh) served.add(orderIdKey(order._id));
      const outcome = await this.#options.archive(fresh);
      this.#options.figures.retried(outcome);
      recovered += outcome.recovered;
      if (due.length < limit && fresh.length < batchMax) break;
    }
    // Each order leaving says so (the core), and the summary line counts them: a detail here.
    if (recovered > 0) {
      log.debug(`Quarantine round: ${counted(recovered, "order")} recovered`, {
        orders_recovered: recovered,
      });
    }
    return recovered;
  }

  /** Refreshes the quarantine gauge when metrics are served; a failed count waits for the next. */
  async refreshGauge(): Promise<void> {
    if (!this.#options.gauge) return;
    try {
      this.#options.gauge.setQuarantine(await this.#quarantine.counts());
    } catch (error) {
      this.#options.log.debug(`Could not count the quarantine: ${describeError(error)}`);
    }
  }
}
