/**
 * The watcher's periodic summary, as Debezium and Monstache log theirs: one INFO line per summary
 * interval (`ARCHIVER_WATCH_SUMMARY_INTERVAL`, 1 minute by default) saying what happened over it —
 * events, orders archived, duplicates, orders newly quarantined by reason, orders recovered from
 * the quarantine, and the micro-batches' lag (median and max) — instead of one line per
 * micro-batch. An interval in which nothing happened writes nothing: an idle watcher's heartbeat
 * is its status file, not its log. The figures come from {@link WatchFigures}, where every count
 * goes; the line carries them as fields (`orders_archived`, `orders_duplicates`,
 * `orders_incomplete`, …, `stream_lag_seconds`), which is how `archiver logs check` reads a run's
 * summary line.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { orderFigures } from "../../core/runtime/outcome.ts";
import { formatDuration } from "../../core/runtime/parse.ts";
import { counted } from "../../core/runtime/plural.ts";
import type { IntervalFigures, WatchFigures } from "./figures.ts";

/** The summary line of an interval: its message and its fields. */
export interface SummaryLine {
  /** E.g. `✅ Archived 280 orders in the last 1m: 300 events, 20 quarantined (20 incomplete)…`. */
  message: string;
  /** The figures as log fields (ECS `archiver.*`). */
  properties: Record<string, unknown>;
}

/**
 * The summary line of an interval, or nothing when nothing happened in it (no event, no order
 * settled or quarantined).
 *
 * @param interval What happened over the interval.
 * @returns The line, or `undefined` for an idle interval.
 * @example
 * ```ts
 * summaryLine(figures.takeInterval());
 * // ✅ Archived 280 orders in the last 1m: 300 events, 20 quarantined (20 incomplete);
 * //    lag p50 0.2 s, max 0.9 s
 * ```
 */
export function summaryLine(interval: IntervalFigures): SummaryLine | undefined {
  const { counts } = interval;
  const figures = orderFigures(counts);
  const quarantined = counts.incomplete + counts.invalid + counts.conflicts + counts.errors;
  const settled = figures.orders_archived + figures.orders_duplicates + quarantined;
  if (interval.events === 0 && settled === 0) return undefined;

  const seconds = Math.max(1, Math.round((interval.endedAt - interval.startedAt) / 1000));
  const parts = [counted(interval.events, "event")];
  if (figures.orders_duplicates > 0) parts.push(counted(figures.orders_duplicates, "duplicate"));
  if (quarantined > 0) {
    const reasons = [
      counts.incomplete > 0 ? `${counts.incomplete} incomplete` : "",
      counts.invalid > 0 ? `${counts.invalid} invalid` : "",
      counts.conflicts > 0 ? counted(counts.conflicts, "conflict") : "",
      counts.errors > 0 ? counted(counts.errors, "error") : "",
    ].filter((reason) => reason !== "");
    parts.push(`${quarantined} quarantined (${reasons.join(", ")})`);
  }
  if (counts.recovered > 0) parts.push(`${counts.recovered} recovered from the quarantine`);
  const lag = interval.lagMaxSeconds === null
    ? ""
    : `; lag p50 ${_seconds(interval.lagP50Seconds ?? 0)}, max ${_seconds(interval.lagMaxSeconds)}`;
  const message = `✅ Archived ${counted(figures.orders_archived, "order")} in the last ${
    formatDuration(seconds * 1000)
  }: ${parts.join(", ")}${lag}`;
  return {
    message,
    properties: {
      summary_interval_seconds: seconds,
      events: interval.events,
      micro_batches: interval.microBatches,
      ...figures,
      // The interval's worst lag: what the lag rule of logs check judges.
      ...(interval.lagMaxSeconds === null ? {} : {
        stream_lag_seconds: _round(interval.lagMaxSeconds),
        stream_lag_p50_seconds: _round(interval.lagP50Seconds ?? 0),
      }),
      connection_errors: interval.connectionErrors,
    },
  };
}

/** Options of {@link WatchSummary}. */
export interface WatchSummaryOptions {
  /** The summary interval, in ms (`ARCHIVER_WATCH_SUMMARY_INTERVAL`). */
  intervalMs: number;
  /** Where the line goes. */
  log: Logger;
}

/** Logs the watcher's summary once per interval, and the last partial interval at stop. */
export class WatchSummary {
  readonly #figures: Pick<WatchFigures, "takeInterval">;
  readonly #options: WatchSummaryOptions;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * A summary of the watcher's figures.
   *
   * @param figures Where every count goes.
   * @param options The interval and the logger.
   */
  constructor(figures: Pick<WatchFigures, "takeInterval">, options: WatchSummaryOptions) {
    this.#figures = figures;
    this.#options = options;
  }

  /** Starts the timer (the interval in progress began when the figures were made). */
  start(): void {
    this.#timer ??= setInterval(() => this.flush(), this.#options.intervalMs);
  }

  /** Logs the interval so far, unless nothing happened in it, and starts the next. */
  flush(): void {
    const line = summaryLine(this.#figures.takeInterval());
    if (line) this.#options.log.info(line.message, line.properties);
  }

  /** Stops the timer and logs the last interval (what happened since the last line). */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}

function _round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function _seconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}
