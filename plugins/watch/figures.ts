/**
 * The watcher's figures: every count of outcomes the watcher keeps goes through here — the status
 * file's metrics, the Prometheus counters and the daily run totals — so the three never disagree
 * and one place adds them up. Counting is in memory; the run totals are written on a timer (the
 * status interval) and on stop, never per micro-batch.
 *
 * @module
 */

import type { Db } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { ArchiveOutcome } from "../../core/archive/archiver.ts";
import type { BatchReport } from "../../core/archive/report.ts";
import { WatchTotals } from "../../core/archive/history.ts";
import type { WatchMetricsRecorder } from "../../core/stream/metrics.ts";
import {
  addOutcomeCounts,
  countsFromFigures,
  emptyOutcomeCounts,
  type OutcomeCounts,
  outcomeLabels,
  settledOutcome,
  watchOrderFigures,
} from "../../core/archive/outcome.ts";
import type { WatchMetrics } from "../../core/stream/watch_status.ts";

/** A micro-batch as counted: how many events, what archiving did, how late it was. */
export interface MicroBatchFigures {
  /** Change events in the micro-batch. */
  events: number;
  /** What archiving the batch's orders did. */
  outcome: ArchiveOutcome;
  /** Seconds from its oldest event to the acknowledged write. */
  lagSeconds: number;
}

/** The watcher's counts, in one place. */
export class WatchFigures {
  /** The status file's metrics (a live object; the status reporter copies it). */
  readonly metrics: WatchMetrics = {
    events_processed: 0,
    ...watchOrderFigures(emptyOutcomeCounts()),
    stream_lag_seconds: 0,
    connection_errors: 0,
    resume_token_age_seconds: 0,
    uptime_seconds: 0,
    token_save_errors: 0,
  };
  readonly #counts = emptyOutcomeCounts();
  readonly #prom: WatchMetricsRecorder;
  #totals: WatchTotals | undefined;

  /**
   * Figures reported to a Prometheus recorder.
   *
   * @param prom The watcher's Prometheus metrics.
   */
  constructor(prom: WatchMetricsRecorder) {
    this.#prom = prom;
  }

  /**
   * Starts the daily run totals in the runs collection, written at most once per interval.
   *
   * @param db The database.
   * @param options The runs collection, the write interval and the logger.
   */
  recordTotals(db: Db, options: { collection: string; intervalMs: number; log: Logger }): void {
    this.#totals = new WatchTotals(db.collection(options.collection), {
      log: options.log,
      flushIntervalMs: options.intervalMs,
    });
  }

  /**
   * Counts an acknowledged micro-batch.
   *
   * @param batch Its events, outcome and lag.
   */
  microBatch(batch: MicroBatchFigures): void {
    const { outcome } = batch;
    this.metrics.events_processed += batch.events;
    this.metrics.stream_lag_seconds = batch.lagSeconds;
    this.#add(outcome);
    this.#prom.countEvents(batch.events);
    this.#prom.countOrders(outcomeLabels(outcome));
    this.#totals?.add({
      events_processed: batch.events,
      ...watchOrderFigures(outcome),
      micro_batches: 1,
      processing_seconds: batch.lagSeconds,
    });
  }

  /**
   * Counts a quarantine retry: only what it settled goes to Prometheus (what stays was counted
   * when it entered).
   *
   * @param outcome What archiving the due orders did.
   */
  retried(outcome: OutcomeCounts): void {
    this.#add(outcome);
    this.#prom.countOrders(outcomeLabels(settledOutcome(outcome)));
  }

  /**
   * Counts a catch-up pass.
   *
   * @param report The pass's report.
   */
  caughtUp(report: BatchReport): void {
    const counts = countsFromFigures(report);
    this.#add(counts);
    this.#prom.countOrders(outcomeLabels(counts));
  }

  /**
   * Counts a connection or stream error.
   *
   * @returns The errors since start.
   */
  connectionError(): number {
    this.#prom.countConnectionError();
    return ++this.metrics.connection_errors;
  }

  /** Counts a resume-token save that failed. */
  tokenSaveError(): void {
    this.metrics.token_save_errors++;
    this.#prom.countTokenSaveError();
  }

  /** Writes the pending run totals now and stops their timer (on stop). */
  async stop(): Promise<void> {
    await this.#totals?.stop();
  }

  #add(counts: OutcomeCounts): void {
    Object.assign(this.metrics, watchOrderFigures(addOutcomeCounts(this.#counts, counts)));
  }
}
