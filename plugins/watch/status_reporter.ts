/**
 * The watcher's status: its state, its reads and events, its recent connection errors, and the
 * status file `archiver health` reads as the heartbeat. The file is written on a timer (the
 * status interval) and at each change of state, never per micro-batch; each heartbeat also runs
 * the watcher's other periodic chores (the token lock's heartbeat).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { describeError } from "../../core/mongo/errors.ts";
import type { WatchMetricsRecorder } from "../../core/stream/metrics.ts";
import {
  type WatchMetrics,
  type WatchRole,
  type WatchState,
  type WatchStatus,
  writeWatchStatus,
} from "../../core/stream/watch_status.ts";

/** Options of {@link StatusReporter}. */
export interface StatusReporterOptions {
  /** The status file. */
  path: string;
  /** How often the status file is written, in ms. */
  intervalMs: number;
  /** The figures (a live object, copied at each write). */
  metrics: WatchMetrics;
  /** The state gauge. */
  prom: Pick<WatchMetricsRecorder, "setState">;
  /** How long one read of the stream waits on the server, in ms. */
  maxAwaitMs: number;
  /** When the last resume token was saved. */
  tokenSavedAt: () => Date | undefined;
  /** `--ha`: the role and epoch. */
  role?: () => { role: WatchRole; epoch: number | null } | undefined;
  /** Runs at each heartbeat, after the status write. */
  onBeat?: () => Promise<void>;
  /** Where a failed write is logged. */
  log: Logger;
  /** When the watcher started. @default now */
  startedAt?: Date;
}

/** Keeps the status and writes the status file. */
export class StatusReporter {
  readonly #options: StatusReporterOptions;
  readonly #startedAt: Date;
  readonly #recentErrors: Date[] = [];
  #state: WatchState = "starting";
  #lastEventAt: Date | null = null;
  #lastReadAt: Date | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #beating = false;
  #beatFailing = false;

  /**
   * A reporter.
   *
   * @param options The file, interval, figures and hooks.
   */
  constructor(options: StatusReporterOptions) {
    this.#options = options;
    this.#startedAt = options.startedAt ?? new Date();
  }

  /** The current state. */
  get state(): WatchState {
    return this.#state;
  }

  /** Starts the heartbeat: the status file every interval, even while a call is slow. */
  start(): void {
    this.#timer ??= setInterval(() => void this.beat(), this.#options.intervalMs);
  }

  /**
   * Writes the status and runs the heartbeat's chores. A beat still running (a slow server) is
   * not doubled; a failing chore is logged once until it succeeds again.
   */
  async beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      await this.write();
      await this.#options.onBeat?.();
      this.#beatFailing = false;
    } catch (error) {
      if (!this.#beatFailing) {
        this.#options.log.warn(`⚠️ Heartbeat: ${describeError(error)}; retrying at each beat`);
      }
      this.#beatFailing = true;
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Changes the state and writes the status at once.
   *
   * @param state The new state.
   */
  async setState(state: WatchState): Promise<void> {
    this.#state = state;
    this.#options.prom.setState(state);
    await this.write();
  }

  /**
   * A successful read of the stream.
   *
   * @param at When.
   */
  read(at: Date): void {
    this.#lastReadAt = at;
  }

  /**
   * The latest event archived.
   *
   * @param at Its time.
   */
  event(at: Date): void {
    this.#lastEventAt = at;
  }

  /**
   * A connection error, kept for an hour in the status.
   *
   * @param at When.
   */
  connectionError(at = new Date()): void {
    this.#recentErrors.push(at);
  }

  /**
   * The status now.
   *
   * @returns What the status file holds.
   */
  snapshot(): WatchStatus {
    const now = new Date();
    const errors = this.#recentErrors;
    while (errors.length > 0 && now.getTime() - errors[0]!.getTime() > 3_600_000) errors.shift();
    const metrics = this.#options.metrics;
    metrics.uptime_seconds = Math.round((now.getTime() - this.#startedAt.getTime()) / 1000);
    const savedAt = this.#options.tokenSavedAt();
    metrics.resume_token_age_seconds = savedAt
      ? Math.round((now.getTime() - savedAt.getTime()) / 1000)
      : 0;
    const role = this.#options.role?.();
    return {
      pid: Deno.pid,
      host: _HOST,
      status_interval_ms: this.#options.intervalMs,
      state: this.#state,
      ...(role ? { role: role.role, lease_epoch: role.epoch } : {}),
      started_at: this.#startedAt.toISOString(),
      updated_at: now.toISOString(),
      last_event_at: this.#lastEventAt?.toISOString() ?? null,
      last_read_at: this.#lastReadAt?.toISOString() ?? null,
      max_await_ms: this.#options.maxAwaitMs,
      recent_connection_errors: errors.map((d) => d.toISOString()),
      metrics: { ...metrics },
    };
  }

  /** Writes the status file now (one write at a time); a failure is logged, never thrown. */
  write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      try {
        await writeWatchStatus(this.#options.path, this.snapshot());
      } catch (error) {
        this.#options.log.warn(
          `Could not write the status file ${this.#options.path}: ${describeError(error)}`,
        );
      }
    });
    return this.#writing;
  }

  /** Stops the heartbeat and writes the final status, `stopped`. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.setState("stopped");
  }
}

// The host, once: a status file says where its process runs.
const _HOST = (() => {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
})();
