/**
 * The watcher's Prometheus metrics (prom-client), named by the Prometheus conventions: an
 * `archiver_` prefix, `_total` counters, base units, and `_timestamp_seconds` gauges for "last
 * time X" (an age is `time() - x` in PromQL, so it never goes stale between scrapes). The watcher
 * pushes what happens (events, outcomes, state, errors, token saves) and a scrape reads it; the
 * default process metrics (`process_*`, `nodejs_*`) are kept.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import denoJson from "../../deno.json" with { type: "json" };
import { ORDER_OUTCOMES, type OrderOutcome } from "../runtime/outcome.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import { WATCH_STATES, type WatchState } from "./watch_status.ts";

/** Orders counted by outcome label (`outcomeLabels` of core/runtime/outcome.ts). */
export type LabelCounts = Record<OrderOutcome, number>;

/**
 * Buckets of `archiver_change_event_lag_seconds`, from 10 ms to a minute; 30 s is the plan's
 * lag alert.
 */
export const LAG_BUCKETS: readonly number[] = [
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** Buckets of `archiver_micro_batch_duration_seconds`, from 5 ms to a minute. */
export const MICRO_BATCH_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/**
 * The lag of each event of a micro-batch: from its time (wall or cluster time) to the
 * acknowledged write. A clock slightly ahead of the server's never makes a lag negative.
 *
 * @param eventTimesMs Each event's time, in ms since the epoch.
 * @param writtenAtMs When the write was acknowledged, in ms since the epoch.
 * @returns One lag in seconds per event.
 */
export function eventLagsSeconds(eventTimesMs: readonly number[], writtenAtMs: number): number[] {
  return eventTimesMs.map((time) => Math.max(0, (writtenAtMs - time) / 1000));
}

/** Options of {@link createWatchMetrics}. */
export interface WatchMetricsOptions {
  /** The version in `archiver_build_info`. @default the version in deno.json */
  version?: string;
  /** When the watcher started. @default now */
  startedAt?: Date;
  /** Also collect the process metrics (core/stream/process_metrics.ts). @default true */
  processMetrics?: boolean;
}

/** The watcher's metrics: what the watcher records, and the registry a scrape reads. */
export interface WatchMetricsRecorder {
  /** The registry `/metrics` serves. */
  readonly registry: Registry;
  /** The state gauge: 1 for `state`, 0 for the others. */
  setState(state: WatchState): void;
  /** Counts change events read and archived in a micro-batch. */
  countEvents(count: number): void;
  /** Adds orders by outcome. */
  countOrders(counts: LabelCounts): void;
  /**
   * Records one acknowledged micro-batch: each event's lag, the batch's duration, and the time of
   * its latest event.
   */
  observeMicroBatch(
    batch: { eventTimesMs: readonly number[]; writtenAtMs: number; durationSeconds: number },
  ): void;
  /** Counts a connection or stream error. */
  countConnectionError(): void;
  /** Counts a resume-token save that failed. */
  countTokenSaveError(): void;
  /** Records when the resume token was last saved. */
  tokenSaved(at: Date): void;
  /** Records a successful read of the stream. */
  streamRead(at: Date): void;
  /** Replaces the quarantine sizes, by reason (the `reason` label, as the quarantine names it). */
  setQuarantine(counts: Readonly<Record<string, number>>): void;
  /** Records the oplog window and the resume headroom, in seconds (absent until known). */
  setOplogHeadroom(windowSeconds: number, headroomSeconds: number | null): void;
}

/**
 * Creates the watcher's metrics on a registry of their own.
 *
 * @param options Version, start time, process metrics.
 * @returns The recorder.
 * @example
 * ```ts
 * const metrics = createWatchMetrics();
 * metrics.setState("streaming");
 * const text = await metrics.registry.metrics();
 * ```
 */
export function createWatchMetrics(options: WatchMetricsOptions = {}): WatchMetricsRecorder {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) registerProcessMetrics(registry);

  new Gauge({
    name: "archiver_build_info",
    help: "Build of the running archiver: 1, with its version and the Deno version as labels",
    labelNames: ["version", "deno"] as const,
    registers,
  }).set({ version: options.version ?? denoJson.version, deno: Deno.version.deno }, 1);

  const state = new Gauge({
    name: "archiver_watch_state",
    help: "Watcher state: 1 for the current state, 0 for the others",
    labelNames: ["state"] as const,
    registers,
  });
  const events = new Counter({
    name: "archiver_change_events_total",
    help: "Change events read from the stream and archived",
    registers,
  });
  const orders = new Counter({
    name: "archiver_orders_total",
    help: "Orders handled by the watcher (catch-up, stream and quarantine retries) by outcome",
    labelNames: ["outcome"] as const,
    registers,
  });
  for (const outcome of ORDER_OUTCOMES) orders.inc({ outcome }, 0);
  const lag = new Histogram({
    name: "archiver_change_event_lag_seconds",
    help: "Per change event: from its cluster time to the acknowledged archive write",
    buckets: [...LAG_BUCKETS],
    registers,
  });
  const microBatch = new Histogram({
    name: "archiver_micro_batch_duration_seconds",
    help: "Per micro-batch: from the read of its first event to the acknowledged archive write",
    buckets: [...MICRO_BATCH_BUCKETS],
    registers,
  });
  const connectionErrors = new Counter({
    name: "archiver_connection_errors_total",
    help: "Connection and change stream errors",
    registers,
  });
  const tokenSaveErrors = new Counter({
    name: "archiver_token_save_errors_total",
    help: "Resume-token saves that failed; the previous token is kept",
    registers,
  });
  // "Last time" gauges are absent until the first time: a 0 would read as 56 years ago.
  const tokenSavedAt = _optionalGauge(
    "archiver_resume_token_saved_timestamp_seconds",
    "When the resume token was last saved, in Unix seconds",
    registry,
  );
  const lastEventAt = _optionalGauge(
    "archiver_last_change_event_timestamp_seconds",
    "Cluster time of the last change event archived, in Unix seconds",
    registry,
  );
  const lastReadAt = _optionalGauge(
    "archiver_last_stream_read_timestamp_seconds",
    "When the change stream was last read successfully, in Unix seconds",
    registry,
  );
  new Gauge({
    name: "archiver_watch_start_time_seconds",
    help: "When the watcher started, in Unix seconds",
    registers,
  }).set(_seconds(options.startedAt ?? new Date()));
  const quarantine = new Gauge({
    name: "archiver_quarantine_orders",
    help: "Orders in the quarantine by reason, refreshed at start and at each retry pass",
    labelNames: ["reason"] as const,
    registers,
  });

  const oplogWindow = _optionalGauge(
    "archiver_oplog_window_seconds",
    "Oplog window: newest minus oldest entry of local.oplog.rs, in seconds",
    registry,
  );
  const headroom = _optionalGauge(
    "archiver_resume_headroom_seconds",
    "Oplog window minus the saved resume token's age: time left before it falls out, in seconds",
    registry,
  );

  const recorder: WatchMetricsRecorder = {
    registry,
    setState(current) {
      for (const name of WATCH_STATES) state.set({ state: name }, name === current ? 1 : 0);
    },
    countEvents(count) {
      events.inc(count);
    },
    countOrders(counts) {
      for (const outcome of ORDER_OUTCOMES) orders.inc({ outcome }, counts[outcome]);
    },
    observeMicroBatch(batch) {
      for (const seconds of eventLagsSeconds(batch.eventTimesMs, batch.writtenAtMs)) {
        lag.observe(seconds);
      }
      microBatch.observe(Math.max(0, batch.durationSeconds));
      if (batch.eventTimesMs.length > 0) {
        lastEventAt.set(Math.max(...batch.eventTimesMs) / 1000);
      }
    },
    countConnectionError() {
      connectionErrors.inc();
    },
    countTokenSaveError() {
      tokenSaveErrors.inc();
    },
    tokenSaved(at) {
      tokenSavedAt.set(_seconds(at));
    },
    streamRead(at) {
      lastReadAt.set(_seconds(at));
    },
    setQuarantine(counts) {
      for (const [reason, count] of Object.entries(counts)) quarantine.set({ reason }, count);
    },
    setOplogHeadroom(windowSeconds, headroomSeconds) {
      oplogWindow.set(windowSeconds);
      if (headroomSeconds !== null) headroom.set(headroomSeconds);
    },
  };
  recorder.setState("starting");
  return recorder;
}

function _seconds(date: Date): number {
  return date.getTime() / 1000;
}

/** A gauge without labels that has no sample until it is first set. */
function _optionalGauge(name: string, help: string, registry: Registry): { set(v: number): void } {
  let value: number | undefined;
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      if (value === undefined) this.remove();
      else this.set(value);
    },
  });
  return {
    set(v) {
      value = v;
    },
  };
}
