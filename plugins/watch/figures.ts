/**
 * The watcher's figures: every count of outcomes the watcher keeps goes through here — the status
 * file's metrics, the Prometheus counters, the daily run totals and the periodic summary line's
 * interval figures (summary.ts) — so they never disagree and one place adds them up. Counting is
 * in memory; the run totals are written on a timer (the status interval) and on stop, the summary
 * once per summary interval, never per micro-batch.
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
} from "../../core/runtime/outcome.ts";
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

/** What the watcher did over one summary interval (from the counts every figure comes from). */
export interface IntervalFigures {
  /** When the interval started, in ms since the epoch. */
  startedAt: number;
  /** When it ended (was taken), in ms since the epoch. */
  endedAt: number;
  /** Change events of the micro-batches acknowledged. */
  events: number;
  /** Micro-batches acknowledged. */
  microBatches: number;
  /**
   * What archiving did: the stream's micro-batches and the quarantine's retries (a catch-up
   * pass logs its own summary line). Quarantine reasons count orders newly quarantined.
   */
  counts: OutcomeCounts;
  /** The median micro-batch lag, in seconds; null without a micro-batch. */
  lagP50Seconds: number | null;
  /** The largest micro-batch lag, in seconds; null without a micro-batch. */
  lagMaxSeconds: number | null;
  /** Connection and stream errors counted. */
  connectionErrors: number;
}

// The lags kept for an interval's median: every micro-batch's up to this many, then a uniform
// sample of them (reservoir), so a busy interval costs bounded memory; the max is always exact.
const _LAG_SAMPLES = 1_024;

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
  readonly #now: () => number;
  readonly #random: () => number;
  #totals: WatchTotals | undefined;
  #interval: _Interval;

  /**
   * Figures reported to a Prometheus recorder.
   *
   * @param prom The watcher's Prometheus metrics.
   * @param options The clock and the lag sample's random source (tests).
   */
  constructor(
    prom: WatchMetricsRecorder,
    options: { now?: () => number; random?: () => number } = {},
  ) {
    this.#prom = prom;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#interval = _interval(this.#now());
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
    addOutcomeCounts(this.#interval.counts, outcome);
    const interval = this.#interval;
    interval.events += batch.events;
    interval.microBatches++;
    interval.lagMax = Math.max(interval.lagMax, batch.lagSeconds);
    if (interval.lags.length < _LAG_SAMPLES) interval.lags.push(batch.lagSeconds);
    else {
      const slot = Math.floor(this.#random() * interval.microBatches);
      if (slot < _LAG_SAMPLES) interval.lags[slot] = batch.lagSeconds;
    }
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
    addOutcomeCounts(this.#interval.counts, outcome);
    this.#prom.countOrders(outcomeLabels(settledOutcome(outcome)));
  }

  /**
   * Counts a catch-up pass.
   *
   * @param report The pass's report.
   */
  caughtUp(report: BatchReport): void {
    const counts = countsFromFigures(report);
    // Not in the interval: the pass logs its own summary line, which logs check counts.
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
    this.#interval.connectionErrors++;
    return ++this.metrics.connection_errors;
  }

  /**
   * The figures of the interval since the last call (or the start), and a new interval begins.
   *
   * @returns What happened over the interval.
   */
  takeInterval(): IntervalFigures {
    const interval = this.#interval;
    const endedAt = this.#now();
    this.#interval = _interval(endedAt);
    const lags = interval.lags.sort((a, b) => a - b);
    return {
      startedAt: interval.startedAt,
      endedAt,
      events: interval.events,
      microBatches: interval.microBatches,
      counts: interval.counts,
      lagP50Seconds: lags.length > 0 ? lags[Math.ceil(lags.length / 2) - 1]! : null,
      lagMaxSeconds: interval.microBatches > 0 ? interval.lagMax : null,
      connectionErrors: interval.connectionErrors,
    };
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

interface _Interval {
  startedAt: number;
  events: number;
  microBatches: number;
  counts: OutcomeCounts;
  lags: number[];
  lagMax: number;
  connectionErrors: number;
}

function _interval(startedAt: number): _Interval {
  return {
    startedAt,
    events: 0,
    microBatches: 0,
    counts: emptyOutcomeCounts(),
    lags: [],
    lagMax: 0,
    connectionErrors: 0,
  };
}
