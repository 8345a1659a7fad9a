/**
 * The watcher's status file: heartbeat, figures and recent connection errors, replaced atomically
 * every few seconds by `archiver watch` and read by `archiver health`.
 *
 * @module
 */

import { readJsonFile, writeFileAtomic } from "../runtime/atomic_file.ts";
import type { WatchOrderFigures } from "../runtime/outcome.ts";

/**
 * The watcher's figures, named as in the operators' monitoring plan: the outcome counts under
 * their watch names (`events_archived`, `orders_duplicates`, `orders_incomplete`,
 * `orders_invalid`, `orders_conflicts`, `orders_errors`, `orders_recovered`: core/runtime/outcome.ts)
 * and the stream's own figures.
 */
export interface WatchMetrics extends WatchOrderFigures {
  /** Change events read from the stream. */
  events_processed: number;
  /** Seconds from the last event's cluster time to its archive write. */
  stream_lag_seconds: number;
  /** Connection and stream errors since start. */
  connection_errors: number;
  /** Age of the last saved resume token. */
  resume_token_age_seconds: number;
  /** Seconds since the watcher started. */
  uptime_seconds: number;
  /** Resume-token saves that failed (disk full, read-only folder); the previous token is kept. */
  token_save_errors: number;
}

/** The watcher's states. */
export const WATCH_STATES = [
  "starting",
  "catching-up",
  "streaming",
  "reconnecting",
  "invalidated",
  "standby",
  "stopped",
] as const;

/** One of the watcher's states. */
export type WatchState = (typeof WATCH_STATES)[number];

/** Who archives among `watch --ha` watchers: the lease holder, or one waiting to take over. */
export type WatchRole = "active" | "standby";

/** What the status file holds. */
export interface WatchStatus {
  /** The watcher's process id. */
  pid: number;
  /**
   * The watcher's host (`Deno.hostname()`): health checks the process only on this host, and
   * judges the heartbeat elsewhere. Absent in files written by older versions.
   */
  host?: string;
  /** How often the status is written, in ms: health's stale threshold is a few of these. */
  status_interval_ms?: number;
  /**
   * What it is doing: `starting`, `catching-up`, `streaming`, `reconnecting`, `invalidated` (the
   * orders collection was dropped or renamed: waiting for it to exist again), `standby`
   * (`--ha`: another watcher holds the lease), `stopped`.
   */
  state: WatchState;
  /** With `--ha`: `active` while holding the lease, `standby` while waiting for it. */
  role?: WatchRole;
  /** With `--ha`: the lease epoch held, or null in standby. */
  lease_epoch?: number | null;
  /** ISO start time. */
  started_at: string;
  /** ISO time of this write: the heartbeat. */
  updated_at: string;
  /** ISO time of the last change event, or null. */
  last_event_at: string | null;
  /**
   * ISO time of the last successful read of the stream (an event or an empty await), or null
   * before the first: a `streaming` watcher whose reads stopped is stalled.
   */
  last_read_at: string | null;
  /** How long one read of the stream waits on the server at most, in ms. */
  max_await_ms: number;
  /** ISO times of the connection errors of the last hour. */
  recent_connection_errors: string[];
  /** The figures. */
  metrics: WatchMetrics;
}

/**
 * Replaces the status file atomically.
 *
 * @param path The status file.
 * @param status The status to write.
 */
export async function writeWatchStatus(path: string, status: WatchStatus): Promise<void> {
  // A heartbeat: rewritten every status interval, it need not reach the disk each time.
  await writeFileAtomic(path, `${JSON.stringify(status, null, 2)}\n`, { durable: false });
}

/**
 * Reads the status file.
 *
 * @param path The status file.
 * @returns The status, or `undefined` when there is no file (no watcher has run here).
 * @throws {SyntaxError} When the file is not a status file.
 */
export async function readWatchStatus(path: string): Promise<WatchStatus | undefined> {
  const value = await readJsonFile(path);
  if (value === undefined) return undefined;
  const status = value as WatchStatus;
  if (typeof status !== "object" || status === null || typeof status.updated_at !== "string") {
    throw new SyntaxError(`${path} is not a watcher status file`);
  }
  return status;
}
