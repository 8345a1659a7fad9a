/**
 * The limits health's checks are held to, from the operators' monitoring plan: one table, with the
 * plan's defaults; each check's file under `checks/` applies its own.
 *
 * @module
 */

import { STALE_HEARTBEATS, STATUS_INTERVAL_MS } from "../../core/runtime/state_files.ts";

/** The limits checks are held to. */
export interface HealthThresholds {
  /** A resume token older than this is CRITICAL. @default 1h */
  maxTokenAgeMs: number;
  /** A resume token not saved within this is a WARNING. @default 10m */
  tokenSaveAgeMs: number;
  /**
   * A watcher heartbeat older than this is CRITICAL: {@link STALE_HEARTBEATS} of the watcher's
   * status interval (or of the interval its status file declares, if longer). @default 15s
   */
  maxHeartbeatAgeMs: number;
  /** Stream lag above this many seconds is a WARNING. @default 10 */
  lagWarnSeconds: number;
  /** Stream lag above this many seconds is CRITICAL. @default 30 */
  lagCriticalSeconds: number;
  /** More connection errors than this in the last hour is CRITICAL. @default 3 */
  maxConnectionErrors: number;
  /** A last batch archiving less than this percent of what it found is a WARNING. @default 95 */
  archivedMinPercent: number;
  /** A last batch with more duplicates than this percent of what it found is a WARNING. @default 10 */
  duplicatesMaxPercent: number;
  /** A last batch with more incomplete orders than this percent is a WARNING. @default 5 */
  incompleteMaxPercent: number;
  /**
   * The last batch's rates are judged only when it found at least this many orders: a few
   * incomplete orders of a small run are a large percent of nothing. @default 50
   */
  rateMinOrders: number;
  /** A log folder larger than this many bytes is a WARNING. @default 1GB */
  maxLogDirBytes: number;
  /** Less free space than this percent on the log folder's volume is a WARNING. @default 20 */
  minFreeDiskPercent: number;
  /** Whether a missing status or token file is CRITICAL rather than not applicable. @default false */
  requireWatcher: boolean;
  /** Incomplete orders quarantined longer than this (from `first_seen`) are a WARNING. @default 1h */
  quarantineGraceMs: number;
  /**
   * A streaming watcher whose last stream read is older than this (or than
   * {@link STALL_AWAIT_PERIODS} await periods, when longer) is CRITICAL. @default 30s
   */
  streamStallMs: number;
  /**
   * A running watcher up for less than this restarted recently: a WARNING (the plan's daily
   * check "uptime > 23h"); 0 turns the check off. @default 23h
   */
  minUptimeMs: number;
  /** The window of the log checks (errors, archive rate), in ms. @default 24h */
  logWindowMs: number;
  /** More ERROR or FATAL log lines than this within the window is a WARNING. @default 0 */
  maxLogErrors: number;
  /** Less than this percent of the orders handled within the window archived is a WARNING. @default 99 */
  archiveRateMinPercent: number;
  /** A resume headroom (oplog window − token age) under this is a WARNING. @default 24h */
  oplogHeadroomWarningMs: number;
  /** A resume headroom under this is CRITICAL. @default 1h */
  oplogHeadroomCriticalMs: number;
}

/** The plan's limits. */
export const defaultThresholds = {
  maxTokenAgeMs: 3_600_000,
  tokenSaveAgeMs: 600_000,
  maxHeartbeatAgeMs: STALE_HEARTBEATS * STATUS_INTERVAL_MS,
  lagWarnSeconds: 10,
  lagCriticalSeconds: 30,
  maxConnectionErrors: 3,
  archivedMinPercent: 95,
  duplicatesMaxPercent: 10,
  incompleteMaxPercent: 5,
  rateMinOrders: 50,
  maxLogDirBytes: 1024 ** 3,
  minFreeDiskPercent: 20,
  requireWatcher: false,
  quarantineGraceMs: 3_600_000,
  streamStallMs: 30_000,
  minUptimeMs: 23 * 3_600_000,
  logWindowMs: 24 * 3_600_000,
  maxLogErrors: 0,
  archiveRateMinPercent: 99,
  oplogHeadroomWarningMs: 24 * 3_600_000,
  oplogHeadroomCriticalMs: 3_600_000,
} as const satisfies HealthThresholds;

/**
 * How many of the watcher's await periods (`max_await_ms`) may pass without a stream read before
 * a streaming watcher is stalled, when that is longer than the stall setting: one slow answer is
 * not a stall, several in a row are.
 */
export const STALL_AWAIT_PERIODS = 5;

/** The shortest stall threshold, whatever the setting: a busy server may answer slowly. */
export const MIN_STREAM_STALL_MS = 30_000;
