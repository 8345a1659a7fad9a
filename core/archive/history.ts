/**
 * The run history: one document per batch run and one per watcher and day in the runs
 * collection (`ARCHIVER_RUNS_COLLECTION`, default `archiver_runs`), so every host's runs land in
 * one place. `archiver history`, `archiver dashboard` and the health check of batch duration
 * read it. The figures keep the batch report's names (`orders_found`, `orders_archived`, …).
 *
 * Recording never decides a run's outcome: a failed write is logged as a warning by the caller
 * and the run's exit code stays what it was.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Collection, Document } from "mongodb";
import { describeError } from "../mongo/errors.ts";
import type { BatchReport } from "./report.ts";
import {
  emptyOutcomeCounts,
  type WatchOrderFigures,
  watchOrderFigures,
} from "../runtime/outcome.ts";

/** One batch run as recorded in the runs collection. */
export interface BatchRunRecord extends BatchReport {
  /** Always `batch`. */
  mode: "batch";
  /** When the run started. */
  started_at: Date;
  /** When it ended. */
  finished_at: Date;
  /** The host it ran on (`Deno.hostname()`). */
  host: string;
  /** Its process id. */
  pid: number;
  /** Always false: dry runs are not recorded. */
  dry_run: false;
  /** The exit code it ended with (0 ok, 1 some orders failed, 2, 3, 70, 130). */
  exit_code: number;
}

/** The watcher's figures added up per day: the outcome counts under their watch names, and more. */
export interface WatchDayFigures extends WatchOrderFigures {
  /** Change events read from the stream. */
  events_processed: number;
  /** Micro-batches archived. */
  micro_batches: number;
  /** Sum over micro-batches of the time from the oldest event to the acknowledged write. */
  processing_seconds: number;
}

/** One watcher's totals for one local day, as recorded. */
export interface WatchDayRecord extends WatchDayFigures {
  /** `watch:<host>:<day>`. */
  _id: string;
  /** Always `watch`. */
  mode: "watch";
  /** The local day, `YYYY-MM-DD`. */
  day: string;
  /** The watcher's host. */
  host: string;
  /** The last time figures were added. */
  updated_at: Date;
}

/** A day of the batch history: its runs added up. */
export interface BatchDay {
  /** The local day, `YYYY-MM-DD`. */
  day: string;
  /** Its weekday, `Mon` … `Sun`. */
  weekday: string;
  /** Batch runs that started that day. */
  runs: number;
  /** Runs that exited 0. */
  succeeded: number;
  /** Runs that exited 0 ÷ runs, from 0 to 1; null without runs. */
  success_rate: number | null;
  /** Mean `batch_duration_ms` of the runs; null without runs. */
  avg_duration_ms: number | null;
  /** Orders selected, summed over the runs. */
  orders_found: number;
  /** Orders archived, summed over the runs. */
  orders_archived: number;
  /** Duplicates, summed. */
  orders_duplicates: number;
  /** Incomplete orders, summed. */
  orders_incomplete: number;
  /** Invalid orders, summed. */
  orders_invalid: number;
  /** Errors, summed. */
  orders_errors: number;
  /** Orders recovered from the quarantine, summed. */
  orders_recovered: number;
}

const _WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

const _DAY_SUMS = [
  "orders_found",
  "orders_archived",
  "orders_duplicates",
  "orders_incomplete",
  "orders_invalid",
  "orders_errors",
  "orders_recovered",
] as const;

/** The default flush interval of the watcher's daily totals: one write a minute at most. */
export const WATCH_TOTALS_FLUSH_MS = 60_000;

/**
 * The local day of a time, `YYYY-MM-DD`.
 *
 * @param time The time.
 * @returns Its day in the local time zone.
 */
export function localDay(time: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}`;
}

/**
 * Records one batch run. Bounded by `timeoutMs`, so a lost server delays the exit by at most
 * that long.
 *
 * @param runs The runs collection.
 * @param run The run.
 * @param options The time bound of the write.
 * @example
 * ```ts
 * await recordRun(db.collection(config.runsCollection), { mode: "batch", ...report, ... });
 * ```
 */
export async function recordRun(
  runs: Collection,
  run: BatchRunRecord,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  await runs.insertOne({ ...run } as Document, { timeoutMS: options.timeoutMs ?? 10_000 });
}

/** How a batch ended, for {@link recordBatchRun}. */
export interface BatchEnding {
  /** When it started. */
  startedAt: Date;
  /** The exit code `archiver batch` ends with. */
  exitCode: number;
  /** Where a failure to record is logged as a warning. */
  log?: Logger;
  /** The time bound of the write. @default 10 s */
  timeoutMs?: number;
}

/**
 * Records a batch run at its end, with its exit code, and never throws: a failure to record is
 * logged as a warning and the run's outcome stays what it was.
 *
 * @param runs The runs collection.
 * @param report The run's report.
 * @param ending How it ended.
 * @returns Whether the run was recorded.
 */
export async function recordBatchRun(
  runs: Collection,
  report: BatchReport,
  ending: BatchEnding,
): Promise<boolean> {
  const run: BatchRunRecord = {
    mode: "batch",
    started_at: ending.startedAt,
    finished_at: new Date(),
    host: _hostname(),
    pid: Deno.pid,
    dry_run: false,
    exit_code: ending.exitCode,
    ...report,
  };
  try {
    await recordRun(runs, run, { timeoutMs: ending.timeoutMs });
    return true;
  } catch (error) {
    ending.log?.warn(
      `⚠️ Could not record the run in ${runs.collectionName}: ${describeError(error)}`,
    );
    return false;
  }
}

/** One operator action on the quarantine (`archiver quarantine retry` or `release`), as recorded. */
export interface QuarantineActionRecord {
  /** Always `quarantine`. */
  mode: "quarantine";
  /** What the operator did. */
  action: "retry" | "release";
  /** When it started. */
  started_at: Date;
  /** When it ended. */
  finished_at: Date;
  /** The host it ran on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** Who ran it, `user@host`. */
  user: string;
  /** The exit code it ended with (0, 1 some orders still quarantined or not found, 2, 3, 70). */
  exit_code: number;
  /** Orders the action was asked about. */
  orders_requested: number;
  /** Orders archived (retry). */
  orders_archived: number;
  /** Orders recorded as released and taken out of the quarantine (release). */
  orders_released: number;
  /** Orders still in the quarantine after the action, by reason. */
  orders_still_quarantined: Record<string, number>;
  /** Orders named that the quarantine did not hold. */
  orders_not_found: number;
  /** The operator's note (release). */
  note?: string;
}

/**
 * Records one quarantine action in the runs collection, and never throws: a failure to record
 * is logged as a warning and the action's outcome stays what it was. The batch history's readers
 * (`history`, `dashboard`, health) select `mode: "batch"` and never see these.
 *
 * @param runs The runs collection.
 * @param action The action, without host and pid (filled here).
 * @param options Where a failure is logged; the time bound of the write.
 * @returns Whether it was recorded.
 */
export async function recordQuarantineAction(
  runs: Collection,
  action: Omit<QuarantineActionRecord, "mode" | "host" | "pid">,
  options: { log?: Logger; timeoutMs?: number } = {},
): Promise<boolean> {
  const record: QuarantineActionRecord = {
    mode: "quarantine",
    ...action,
    host: _hostname(),
    pid: Deno.pid,
  };
  try {
    await runs.insertOne({ ...record } as Document, { timeoutMS: options.timeoutMs ?? 10_000 });
    return true;
  } catch (error) {
    options.log?.warn(
      `⚠️ Could not record the quarantine ${action.action} in ${runs.collectionName}: ${
        describeError(error)
      }`,
    );
    return false;
  }
}

/** One purge run (`archiver purge`, or its `restore`), as recorded in the run history. */
export interface PurgeRunRecord {
  /** Always `purge`. */
  mode: "purge";
  /** `purge` or `restore`. */
  action: "purge" | "restore";
  /** When it started. */
  started_at: Date;
  /** When it ended. */
  finished_at: Date;
  /** The host it ran on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** The run's id, as its marks on the archive documents name it. */
  run_id: string;
  /** The exit code it ended with. */
  exit_code: number;
  /** The figures: the purge report, or the restore's counts. */
  [figure: string]: unknown;
}

/**
 * Records one purge run (or restore) in the runs collection, and never throws: a failure to
 * record is logged as a warning. The batch history's readers select `mode: "batch"` and never
 * see these; the `purge` health check reads the last one (`mode: "purge"`, newest
 * `finished_at`).
 *
 * @param runs The runs collection.
 * @param run The run, without mode, host and pid (filled here).
 * @param options Where a failure is logged; the time bound of the write.
 * @returns Whether it was recorded.
 */
export async function recordPurgeRun(
  runs: Collection,
  run: Omit<PurgeRunRecord, "mode" | "host" | "pid">,
  options: { log?: Logger; timeoutMs?: number } = {},
): Promise<boolean> {
  try {
    await runs.insertOne({ ...run, mode: "purge", host: _hostname(), pid: Deno.pid }, {
      timeoutMS: options.timeoutMs ?? 10_000,
    });
    return true;
  } catch (error) {
    options.log?.warn(
      `⚠️ Could not record the purge run in ${runs.collectionName}: ${describeError(error)}`,
    );
    return false;
  }
}

/**
 * Adds up batch runs by local day, for the last `days` days up to `now`, oldest first. Days
 * without runs are there, empty.
 *
 * @param runs The batch runs (any order; those outside the window are ignored).
 * @param options How many days, and the current time.
 * @returns One entry per day.
 */
export function summarizeDays(
  runs: Iterable<
    Pick<BatchRunRecord, "started_at" | "exit_code" | "batch_duration_ms"> & Partial<BatchReport>
  >,
  options: { days: number; now?: Date },
): BatchDay[] {
  const now = options.now ?? new Date();
  const days = new Map<string, BatchDay & { _duration: number }>();
  for (let back = options.days - 1; back >= 0; back--) {
    const date = new Date(now.getFullYear(), now.getMonth(), now.getDate() - back);
    days.set(localDay(date), {
      day: localDay(date),
      weekday: _WEEKDAYS[date.getDay()]!,
      runs: 0,
      succeeded: 0,
      success_rate: null,
      avg_duration_ms: null,
      orders_found: 0,
      orders_archived: 0,
      orders_duplicates: 0,
      orders_incomplete: 0,
      orders_invalid: 0,
      orders_errors: 0,
      orders_recovered: 0,
      _duration: 0,
    });
  }
  for (const run of runs) {
    const day = days.get(localDay(new Date(run.started_at)));
    if (!day) continue;
    day.runs++;
    if (run.exit_code === 0) day.succeeded++;
    day._duration += _number(run.batch_duration_ms);
    for (const name of _DAY_SUMS) day[name] += _number(run[name]);
  }
  return [...days.values()].map(({ _duration, ...day }) => ({
    ...day,
    success_rate: day.runs > 0 ? day.succeeded / day.runs : null,
    avg_duration_ms: day.runs > 0 ? Math.round(_duration / day.runs) : null,
  }));
}

/**
 * Reads the batch history of the last `days` days, added up by local day.
 *
 * @param runs The runs collection.
 * @param options How many days, the current time, the server time bound.
 * @returns One entry per day, oldest first.
 */
export async function runsByDay(
  runs: Collection,
  options: { days: number; now?: Date; maxTimeMs?: number },
): Promise<BatchDay[]> {
  const now = options.now ?? new Date();
  const since = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (options.days - 1));
  const found = await runs.find(
    { mode: "batch", started_at: { $gte: since } },
    { maxTimeMS: options.maxTimeMs ?? 10_000 },
  ).toArray();
  return summarizeDays(found as unknown as BatchRunRecord[], { days: options.days, now });
}

/**
 * The durations of the last successful batch runs, newest first.
 *
 * @param runs The runs collection.
 * @param options How many at most, the server time bound.
 * @returns Their `batch_duration_ms` and start times.
 */
export async function lastSuccessfulRuns(
  runs: Collection,
  options: { limit?: number; maxTimeMs?: number } = {},
): Promise<Array<{ started_at: Date; batch_duration_ms: number }>> {
  const found = await runs.find({ mode: "batch", exit_code: 0 }, {
    sort: { started_at: -1 },
    limit: options.limit ?? 10,
    projection: { _id: 0, started_at: 1, batch_duration_ms: 1 },
    maxTimeMS: options.maxTimeMs ?? 10_000,
  }).toArray();
  return found.map((run) => ({
    started_at: run.started_at as Date,
    batch_duration_ms: _number(run.batch_duration_ms),
  }));
}

/**
 * Reads one host's watcher totals for a day (the dashboard's "today").
 *
 * @param runs The runs collection.
 * @param options The day (default today), the host (default this one), the time bound.
 * @returns The totals, or undefined when that watcher archived nothing that day.
 */
export async function watchDay(
  runs: Collection,
  options: { day?: string; host?: string; maxTimeMs?: number } = {},
): Promise<WatchDayRecord | undefined> {
  const day = options.day ?? localDay(new Date());
  const host = options.host ?? _hostname();
  const found = await runs.findOne({ _id: _watchId(host, day) } as Document, {
    maxTimeMS: options.maxTimeMs ?? 10_000,
  });
  return (found as WatchDayRecord | null) ?? undefined;
}

/** Options of {@link WatchTotals}. */
export interface WatchTotalsOptions {
  /** The watcher's host. @default Deno.hostname() */
  host?: string;
  /** Longest time figures wait in memory before a write. @default 60 s */
  flushIntervalMs?: number;
  /** Where a failed write is logged as a warning (the figures are kept for the next flush). */
  log?: Logger;
  /** The clock (tests). @default () => new Date() */
  now?: () => Date;
  /** The time bound of one write. @default 10 s */
  timeoutMs?: number;
}

/**
 * The watcher's daily totals: figures are added in memory after each micro-batch and written
 * with one `$inc` upsert per day at most once per flush interval, and on stop.
 */
export class WatchTotals {
  readonly #runs: Collection;
  readonly #host: string;
  readonly #intervalMs: number;
  readonly #log?: Logger;
  readonly #now: () => Date;
  readonly #timeoutMs: number;
  #pending = new Map<string, WatchDayFigures>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /**
   * @param runs The runs collection.
   * @param options Host, flush interval, logger, clock.
   */
  constructor(runs: Collection, options: WatchTotalsOptions = {}) {
    this.#runs = runs;
    this.#host = options.host ?? _hostname();
    this.#intervalMs = options.flushIntervalMs ?? WATCH_TOTALS_FLUSH_MS;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Adds a micro-batch's figures to today's totals; they are written within the flush interval.
   *
   * @param figures The figures to add.
   */
  add(figures: Partial<WatchDayFigures>): void {
    const day = localDay(this.#now());
    const totals = this.#pending.get(day) ?? _emptyFigures();
    for (const [name, value] of Object.entries(figures)) {
      if (typeof value === "number" && Number.isFinite(value)) {
        totals[name as keyof WatchDayFigures] += value;
      }
    }
    this.#pending.set(day, totals);
    if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#intervalMs);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Writes what is pending now, one upsert per day; on failure keeps it for the next flush. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  /** Stops the timer and writes what is pending. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  async #write(): Promise<void> {
    const pending = this.#pending;
    if (pending.size === 0) return;
    this.#pending = new Map();
    for (const [day, figures] of pending) {
      try {
        await this.#runs.updateOne(
          { _id: _watchId(this.#host, day) } as Document,
          {
            $inc: { ...figures },
            $set: { updated_at: this.#now() },
            $setOnInsert: { mode: "watch", day, host: this.#host },
          },
          { upsert: true, timeoutMS: this.#timeoutMs },
        );
      } catch (error) {
        // Keep the figures: the next flush adds them again.
        const kept = this.#pending.get(day) ?? _emptyFigures();
        for (const name of Object.keys(figures) as Array<keyof WatchDayFigures>) {
          kept[name] += figures[name];
        }
        this.#pending.set(day, kept);
        this.#log?.warn(
          `⚠️ Could not record the watcher's totals in ${this.#runs.collectionName}: ${
            describeError(error)
          }`,
        );
      }
    }
  }
}

function _watchId(host: string, day: string): string {
  return `watch:${host}:${day}`;
}

function _emptyFigures(): WatchDayFigures {
  return {
    events_processed: 0,
    ...watchOrderFigures(emptyOutcomeCounts()),
    micro_batches: 0,
    processing_seconds: 0,
  };
}

function _number(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function _hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
