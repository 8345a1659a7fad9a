/**
 * The health thresholds: pure functions from what was read (a status file, a token file, a batch
 * report, disk figures, what MongoDB answered) and the current time to a check's state and reason.
 * The limits come from the operators' monitoring plan; the I/O that gathers the inputs lives in
 * `checks.ts`, `mongo_checks.ts` and `disk.ts`.
 *
 * @module
 */

import type { ArchiveIndexState } from "../../core/archive/archive_index.ts";
import type { QuarantineReason } from "../../core/archive/quarantine.ts";
import type { SavedBatchReport } from "../../core/archive/report.ts";
import type { ProcessLiveness } from "../../core/runtime/proc.ts";
import { STALE_HEARTBEATS, STATUS_INTERVAL_MS } from "../../core/runtime/state_files.ts";
import { type Headroom, headroomLevel } from "../../core/stream/oplog_window.ts";
import type { WatchStatus } from "../../core/stream/watch_status.ts";
import { type CheckResult, result, skipped } from "./state.ts";

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

/** What reading a state file gave: nothing, something unreadable, or a value. */
export type FileRead<T> =
  | { kind: "missing"; path: string }
  | { kind: "invalid"; path: string; reason: string }
  | { kind: "found"; path: string; value: T };

/** The resume-token file the watcher writes. */
export interface TokenFile {
  /** The resume token, as Extended JSON. */
  token?: unknown;
  /** ISO cluster time of the token, or null. */
  cluster_time?: string | null;
  /** ISO time the token was saved. */
  saved_at?: unknown;
  /** `<db>.<collection>` the stream watches. */
  namespace?: string;
}

const HOUR_MS = 3_600_000;

/**
 * How old a heartbeat may be: the threshold, or {@link STALE_HEARTBEATS} of the status interval
 * the status file declares (`status_interval_ms`) when that is longer.
 *
 * @param status The status as read.
 * @param limits The thresholds.
 * @returns The stale threshold in ms.
 */
export function staleHeartbeatThreshold(status: WatchStatus, limits: HealthThresholds): number {
  const declared = (status as { status_interval_ms?: unknown }).status_interval_ms;
  const interval = typeof declared === "number" && Number.isFinite(declared) && declared > 0
    ? declared
    : 0;
  return Math.max(limits.maxHeartbeatAgeMs, STALE_HEARTBEATS * interval);
}

/**
 * The watcher's liveness: status file present, heartbeat fresh, not stopped, and — on the
 * watcher's host — its process still there (a watcher killed with -9 leaves a fresh heartbeat).
 *
 * @param read The status file as read.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @param process The watcher's process on this host, when it can be told: `gone` is CRITICAL at
 *   once; `undefined` (another host, no `/proc`) leaves it to the heartbeat.
 * @returns The `watcher` check.
 */
export function watcherCheck(
  read: FileRead<WatchStatus>,
  now: number,
  limits: HealthThresholds,
  process?: ProcessLiveness,
): CheckResult {
  const name = "watcher";
  if (read.kind === "missing") return _absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") {
    // With --url the "path" is the watcher's /healthz, which the reason already names.
    const url = /^https?:/.test(read.path);
    return result(
      name,
      "CRITICAL",
      url ? read.reason : `Cannot read status file ${read.path}: ${read.reason}`,
    );
  }
  const status = read.value;
  const updated = Date.parse(status.updated_at);
  if (Number.isNaN(updated)) {
    return result(name, "CRITICAL", `Status file ${read.path} has no valid updated_at`);
  }
  const age = Math.max(0, now - updated);
  const uptime = status.metrics?.uptime_seconds;
  const data: Record<string, unknown> = {
    state: status.state,
    ...(status.role ? { role: status.role } : {}),
    pid: status.pid,
    heartbeat_age_seconds: Math.round(age / 1000),
    uptime_seconds: uptime ?? null,
    last_event_at: status.last_event_at ?? null,
  };
  if (status.state === "stopped") {
    return result(name, "CRITICAL", `Watcher stopped ${formatAge(age)} ago`, data);
  }
  if (process === "gone") {
    return result(
      name,
      "CRITICAL",
      `Not running: process ${status.pid} is gone (last heartbeat ${formatAge(age)} ago)`,
      { ...data, process: "gone" },
    );
  }
  const staleMs = staleHeartbeatThreshold(status, limits);
  if (age > staleMs) {
    return result(
      name,
      "CRITICAL",
      `No heartbeat for ${formatAge(age)} (max ${formatAge(staleMs)}): is the watcher running?`,
      data,
    );
  }
  if (status.state === "invalidated") {
    return result(
      name,
      "CRITICAL",
      "Watcher invalidated: the orders collection was dropped or renamed; waiting for it to exist again",
      data,
    );
  }
  const up = typeof uptime === "number" ? `, up ${formatAge(uptime * 1000)}` : "";
  const detail = `${status.state}${up}, heartbeat ${formatAge(age)} ago`;
  const lastRead = typeof status.last_read_at === "string" ? Date.parse(status.last_read_at) : NaN;
  if (status.state === "streaming" && !Number.isNaN(lastRead)) {
    // An older status file has no last_read_at: nothing to judge then. The read's age is taken
    // at the heartbeat: a stale heartbeat is the heartbeat check's to report, a heartbeat that
    // goes on while reads stopped is a stall.
    const readAge = Math.max(0, Math.min(now, updated) - lastRead);
    const stallMs = streamStallThreshold(status.max_await_ms, limits);
    Object.assign(data, {
      last_read_age_seconds: Math.round(readAge / 1000),
      stall_threshold_seconds: Math.round(stallMs / 1000),
    });
    if (readAge > stallMs) {
      return result(
        name,
        "CRITICAL",
        `Watcher stalled: no stream read for ${formatAge(readAge)} (max ${
          formatAge(stallMs)
        }), heartbeat ${formatAge(age)} ago`,
        data,
      );
    }
  }
  if (status.state === "reconnecting") {
    return result(name, "WARNING", `Reconnecting to MongoDB (${detail})`, data);
  }
  if (status.state === "standby") {
    // watch --ha: waiting for the lease is its job; watch_lease says whether someone holds it.
    return result(name, "OK", `Standby: another watcher holds the lease (${detail})`, data);
  }
  return result(name, "OK", detail, data);
}

/**
 * The watcher's uptime, the plan's daily check "watch service running, uptime over 23 h": a
 * running watcher up for less than the minimum restarted (or was started) within it.
 *
 * @param read The status file as read.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @returns The `watcher_uptime` check.
 */
export function watcherUptimeCheck(
  read: FileRead<WatchStatus>,
  now: number,
  limits: HealthThresholds,
): CheckResult {
  const name = "watcher_uptime";
  if (read.kind === "missing") return _absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") return result(name, "UNKNOWN", "No readable status file");
  if (limits.minUptimeMs <= 0) return skipped(name, "the minimum uptime is 0");
  const status = read.value;
  const updated = Date.parse(status.updated_at);
  if (status.state === "stopped") return skipped(name, "the watcher is stopped (see watcher)");
  if (Number.isNaN(updated) || now - updated > staleHeartbeatThreshold(status, limits)) {
    return skipped(name, "no recent heartbeat (see watcher)");
  }
  const started = Date.parse(status.started_at);
  const reported = status.metrics?.uptime_seconds;
  const uptimeMs = !Number.isNaN(started)
    ? Math.max(0, now - started)
    : typeof reported === "number" && Number.isFinite(reported)
    ? reported * 1000 + Math.max(0, now - updated)
    : NaN;
  if (Number.isNaN(uptimeMs)) {
    return result(name, "UNKNOWN", "The status file has no started_at nor uptime_seconds");
  }
  const data = { uptime_seconds: Math.round(uptimeMs / 1000) };
  const min = formatAge(limits.minUptimeMs);
  if (uptimeMs < limits.minUptimeMs) {
    return result(
      name,
      "WARNING",
      `Watcher up ${formatAge(uptimeMs)}: (re)started within the last ${min}`,
      data,
    );
  }
  return result(name, "OK", `Watcher up ${formatAge(uptimeMs)} (> ${min})`, data);
}

/** What the log files of the window hold, as the log checks need it. */
export interface LogWindowSeen {
  /** The log folder. */
  dir: string;
  /** Log records read within the window. */
  lines: number;
  /** ERROR and FATAL lines (health's own excepted). */
  errors: number;
  /** The last error's logger and message, when there is one. */
  lastError?: { at: number; logger: string; message: string };
  /** Orders archived. */
  archived: number;
  /** Orders left out as incomplete. */
  incomplete: number;
  /** Orders quarantined as invalid or in error. */
  failed: number;
}

/**
 * Errors in the logs of the window, the plan's daily check "no error in the logs of the last
 * 24 h".
 *
 * @param seen What the log files of the window hold, or why they could not be read.
 * @param limits The thresholds.
 * @returns The `log_errors` check.
 */
export function logErrorsCheck(
  seen: LogWindowSeen | { dir: string; error: string },
  limits: HealthThresholds,
): CheckResult {
  const name = "log_errors";
  if ("error" in seen) return result(name, "UNKNOWN", `Cannot read ${seen.dir}: ${seen.error}`);
  const window = formatAge(limits.logWindowMs);
  const data = {
    log_errors: seen.errors,
    lines: seen.lines,
    window_seconds: limits.logWindowMs / 1000,
  };
  const text = `${seen.errors} error${
    seen.errors === 1 ? "" : "s"
  } in the logs of the last ${window}`;
  if (seen.errors > limits.maxLogErrors) {
    const last = seen.lastError
      ? `, last ${seen.lastError.logger}: ${_oneLine(seen.lastError.message)}`
      : "";
    return result(
      name,
      "WARNING",
      `${text} (max ${limits.maxLogErrors})${last}; see archiver logs check`,
      data,
    );
  }
  return result(name, "OK", `${text} (${seen.lines} lines)`, data);
}

/**
 * The archive rate of the window, the plan's daily check "archive rate over 99 %": orders
 * archived among those the tool tried to write (archived, invalid or in error; duplicates were
 * archived before). Incomplete orders are left out: they wait for data the platform has not
 * written yet, and have their own threshold (the incomplete share) and the quarantine check.
 *
 * @param seen What the log files of the window hold, or why they could not be read.
 * @param limits The thresholds.
 * @returns The `archive_rate` check.
 */
export function archiveRateCheck(
  seen: LogWindowSeen | { dir: string; error: string },
  limits: HealthThresholds,
): CheckResult {
  const name = "archive_rate";
  if ("error" in seen) return result(name, "UNKNOWN", `Cannot read ${seen.dir}: ${seen.error}`);
  const window = formatAge(limits.logWindowMs);
  const handled = seen.archived + seen.failed;
  if (handled === 0) {
    return result(name, "OK", `No order handled in the last ${window}`, {
      archive_rate_percent: null,
      orders_handled: 0,
    });
  }
  // Rounded down, so a rate just under the minimum never reads as the minimum (98.99 → 98.9).
  const rate = Math.floor(_percent(seen.archived, handled) * 10) / 10;
  const data = {
    archive_rate_percent: rate,
    orders_handled: handled,
    orders_archived: seen.archived,
    orders_incomplete: seen.incomplete,
    orders_failed: seen.failed,
  };
  const text =
    `${rate}% of ${handled} orders archived in the last ${window} (invalid or in error ${seen.failed}; ${seen.incomplete} incomplete left out)`;
  if (rate < limits.archiveRateMinPercent) {
    return result(name, "WARNING", `${text} (< ${limits.archiveRateMinPercent}%)`, data);
  }
  return result(name, "OK", text, data);
}

function _oneLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

/**
 * How long a streaming watcher may go without a stream read: the setting, or
 * {@link STALL_AWAIT_PERIODS} await periods when longer, never below 30 s.
 *
 * @param maxAwaitMs The watcher's `max_await_ms`, when its status file has it.
 * @param limits The thresholds.
 * @returns The stall threshold in ms.
 */
export function streamStallThreshold(maxAwaitMs: unknown, limits: HealthThresholds): number {
  const awaits = typeof maxAwaitMs === "number" && Number.isFinite(maxAwaitMs) && maxAwaitMs > 0
    ? maxAwaitMs * STALL_AWAIT_PERIODS
    : 0;
  return Math.max(MIN_STREAM_STALL_MS, limits.streamStallMs, awaits);
}

/**
 * The change stream's lag, from the watcher's status.
 *
 * @param read The status file as read.
 * @param limits The thresholds.
 * @returns The `stream_lag` check.
 */
export function streamLagCheck(read: FileRead<WatchStatus>, limits: HealthThresholds): CheckResult {
  const name = "stream_lag";
  if (read.kind === "missing") return _absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") return result(name, "UNKNOWN", `No readable status file`);
  const lag = read.value.metrics?.stream_lag_seconds;
  if (typeof lag !== "number" || !Number.isFinite(lag)) {
    return result(name, "UNKNOWN", "The status file has no stream_lag_seconds");
  }
  const data = { stream_lag_seconds: lag };
  const shown = `${_round(lag)}s`;
  if (lag > limits.lagCriticalSeconds) {
    return result(name, "CRITICAL", `Stream lag ${shown} (> ${limits.lagCriticalSeconds}s)`, data);
  }
  if (lag > limits.lagWarnSeconds) {
    return result(name, "WARNING", `Stream lag ${shown} (> ${limits.lagWarnSeconds}s)`, data);
  }
  return result(name, "OK", `Stream lag ${shown}`, data);
}

/**
 * The watcher's connection errors of the last hour.
 *
 * @param read The status file as read.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @returns The `connection_errors` check.
 */
export function connectionErrorsCheck(
  read: FileRead<WatchStatus>,
  now: number,
  limits: HealthThresholds,
): CheckResult {
  const name = "connection_errors";
  if (read.kind === "missing") return _absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") return result(name, "UNKNOWN", `No readable status file`);
  const times = Array.isArray(read.value.recent_connection_errors)
    ? read.value.recent_connection_errors
    : [];
  const count = times.filter((time) => {
    const at = Date.parse(time);
    return !Number.isNaN(at) && at >= now - HOUR_MS && at <= now + 60_000;
  }).length;
  const data = { connection_errors_last_hour: count };
  const text = `${count} connection error${count === 1 ? "" : "s"} in the last hour`;
  if (count > limits.maxConnectionErrors) {
    return result(name, "CRITICAL", `${text} (> ${limits.maxConnectionErrors})`, data);
  }
  return result(name, "OK", text, data);
}

/**
 * The watcher's saved resume token as read from its store (`where` names the token file or the
 * Mongo token document): nothing, something unusable, unreadable (the server did not answer),
 * or the token.
 */
export type TokenRead =
  | { kind: "missing"; where: string }
  | { kind: "invalid"; where: string; reason: string }
  | { kind: "unreadable"; where: string; reason: string }
  | { kind: "found"; where: string; value: TokenFile };

/**
 * The resume token's age, from the store the watcher is configured with.
 *
 * @param read The token as read.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @returns The `resume_token` check.
 */
export function resumeTokenCheck(
  read: TokenRead,
  now: number,
  limits: HealthThresholds,
): CheckResult {
  const name = "resume_token";
  if (read.kind === "missing") return _absent(name, `no ${read.where}`, limits);
  if (read.kind === "invalid") {
    return result(name, "CRITICAL", `Cannot parse ${read.where}: ${read.reason}`);
  }
  if (read.kind === "unreadable") {
    return result(name, "UNKNOWN", `Cannot read the ${read.where}: ${read.reason}`);
  }
  const token = read.value;
  const saved = typeof token.saved_at === "string" ? Date.parse(token.saved_at) : NaN;
  if (typeof token !== "object" || token === null || Number.isNaN(saved)) {
    return result(name, "CRITICAL", `${_capitalize(read.where)} has no valid saved_at`);
  }
  const age = Math.max(0, now - saved);
  const data = {
    resume_token_age_seconds: Math.round(age / 1000),
    saved_at: token.saved_at,
    namespace: token.namespace ?? null,
  };
  if (age > limits.maxTokenAgeMs) {
    return result(
      name,
      "CRITICAL",
      `Resume token saved ${formatAge(age)} ago (max ${formatAge(limits.maxTokenAgeMs)})`,
      data,
    );
  }
  if (age > limits.tokenSaveAgeMs) {
    return result(
      name,
      "WARNING",
      `Resume token saved ${formatAge(age)} ago, not within the last ${
        formatAge(limits.tokenSaveAgeMs)
      }`,
      data,
    );
  }
  return result(name, "OK", `Resume token saved ${formatAge(age)} ago`, data);
}

/** What the oplog headroom check saw: the figures, or why there are none. */
export type OplogHeadroomSeen =
  | { kind: "no-token"; where: string }
  | { kind: "no-token-time"; where: string }
  | { kind: "unreadable-token"; where: string; reason: string }
  | { kind: "unauthorized"; message: string }
  | { kind: "empty" }
  | { kind: "error"; reason: string }
  | { kind: "ok"; headroom: Headroom };

/**
 * The resume headroom: how long before the saved token falls out of the oplog (the oplog window
 * minus the token's age, both from the server's times).
 *
 * @param seen What was read.
 * @param limits The thresholds.
 * @returns The `oplog_headroom` check.
 */
export function oplogHeadroomCheck(seen: OplogHeadroomSeen, limits: HealthThresholds): CheckResult {
  const name = "oplog_headroom";
  switch (seen.kind) {
    case "no-token":
      return skipped(name, `no saved resume token in ${seen.where}`);
    case "no-token-time":
      return skipped(name, `the resume token in ${seen.where} has no cluster time`);
    case "unreadable-token":
      return skipped(name, `the resume token in ${seen.where} is unusable (${seen.reason})`);
    case "unauthorized":
      return result(name, "UNKNOWN", `Oplog headroom ${seen.message}`);
    case "empty":
      return result(name, "UNKNOWN", "The oplog (local.oplog.rs) holds no entry");
    case "error":
      return result(name, "UNKNOWN", `Cannot read the oplog window: ${seen.reason}`);
  }
  const { windowSeconds, headroomSeconds, fill } = seen.headroom;
  const tokenAgeSeconds = seen.headroom.tokenAgeSeconds ?? 0;
  const data = {
    oplog_window_seconds: windowSeconds,
    resume_headroom_seconds: headroomSeconds,
    token_age_seconds: tokenAgeSeconds,
    oplog_fill_percent: _round(fill * 100),
  };
  const token = `token ${formatAge(tokenAgeSeconds * 1000)} old`;
  if (headroomSeconds === null) {
    // Not full: nothing dropped yet, the token stays until the oplog fills (judged from then).
    return result(
      name,
      "OK",
      `Oplog ${
        Math.round(fill * 100)
      }% full: no entry dropped yet, the saved token stays until it fills (${token}; window projected at the rate so far ${
        formatAge(windowSeconds * 1000)
      })`,
      data,
    );
  }
  const text = `Resume headroom ${_signedAge(headroomSeconds)} (oplog window ${
    formatAge(windowSeconds * 1000)
  }, ${token})`;
  const level = headroomLevel(headroomSeconds, {
    warningSeconds: limits.oplogHeadroomWarningMs / 1000,
    criticalSeconds: limits.oplogHeadroomCriticalMs / 1000,
  });
  if (level === "critical") {
    return result(
      name,
      "CRITICAL",
      `${text}: under ${formatAge(limits.oplogHeadroomCriticalMs)}`,
      data,
    );
  }
  if (level === "warning") {
    return result(
      name,
      "WARNING",
      `${text}: under ${formatAge(limits.oplogHeadroomWarningMs)}`,
      data,
    );
  }
  return result(name, "OK", text, data);
}

function _signedAge(seconds: number): string {
  return seconds < 0 ? `-${formatAge(-seconds * 1000)}` : formatAge(seconds * 1000);
}

/**
 * The last batch run's figures against the plan's rates.
 *
 * @param read The last batch report as read.
 * @param limits The thresholds.
 * @returns The `last_batch` check.
 */
export function lastBatchCheck(
  read: FileRead<SavedBatchReport>,
  limits: HealthThresholds,
): CheckResult {
  const name = "last_batch";
  if (read.kind === "missing") return skipped(name, `no batch report ${read.path}`);
  if (read.kind === "invalid") {
    return result(name, "CRITICAL", `Cannot read batch report ${read.path}: ${read.reason}`);
  }
  const report = read.value;
  const found = report.orders_found;
  const data = {
    finished_at: report.finished_at ?? null,
    orders_found: found,
    orders_archived: report.orders_archived,
    orders_duplicates: report.orders_duplicates,
    orders_incomplete: report.orders_incomplete,
    orders_errors: report.orders_errors,
  };
  const figures = `found ${found}, archived ${report.orders_archived}, duplicates ${
    report.orders_duplicates ?? 0
  }, incomplete ${report.orders_incomplete ?? 0}, errors ${report.orders_errors ?? 0}`;
  if ((report.orders_errors ?? 0) > 0) {
    return result(
      name,
      "CRITICAL",
      `Last batch had ${report.orders_errors} error${
        report.orders_errors === 1 ? "" : "s"
      } (${figures})`,
      data,
    );
  }
  const problems: string[] = [];
  if (found > 0) {
    const archived = _percent(report.orders_archived ?? 0, found);
    const duplicates = _percent(report.orders_duplicates ?? 0, found);
    const incomplete = _percent(report.orders_incomplete ?? 0, found);
    if (archived < limits.archivedMinPercent) {
      problems.push(`archived ${_round(archived)}% < ${limits.archivedMinPercent}%`);
    }
    if (duplicates > limits.duplicatesMaxPercent) {
      problems.push(`duplicates ${_round(duplicates)}% > ${limits.duplicatesMaxPercent}%`);
    }
    if (incomplete > limits.incompleteMaxPercent) {
      problems.push(`incomplete ${_round(incomplete)}% > ${limits.incompleteMaxPercent}%`);
    }
  }
  if (problems.length > 0) {
    return result(name, "WARNING", `Last batch: ${problems.join(", ")} (${figures})`, data);
  }
  return result(name, "OK", `Last batch: ${figures}`, data);
}

/**
 * The log folder's size.
 *
 * @param size The folder's bytes and file count, or why it could not be measured.
 * @param limits The thresholds.
 * @returns The `log_folder` check.
 */
export function logFolderCheck(
  size: { dir: string; bytes: number; files: number } | { dir: string; error: string },
  limits: HealthThresholds,
): CheckResult {
  const name = "log_folder";
  if ("error" in size) {
    return result(name, "UNKNOWN", `Cannot measure log folder ${size.dir}: ${size.error}`);
  }
  const data = { log_dir_bytes: size.bytes, log_files: size.files };
  const text = `${formatBytes(size.bytes)} in ${size.files} file${size.files === 1 ? "" : "s"}`;
  if (size.bytes > limits.maxLogDirBytes) {
    return result(
      name,
      "WARNING",
      `Log folder holds ${text} (> ${formatBytes(limits.maxLogDirBytes)}): run archiver logs prune`,
      data,
    );
  }
  return result(name, "OK", `Log folder holds ${text}`, data);
}

/**
 * Free space on the log folder's volume.
 *
 * @param space Free and total bytes, or why they are unknown.
 * @param limits The thresholds.
 * @returns The `disk_space` check.
 */
export function diskSpaceCheck(
  space: { freeBytes: number; totalBytes: number } | { error: string },
  limits: HealthThresholds,
): CheckResult {
  const name = "disk_space";
  if ("error" in space) {
    return result(name, "UNKNOWN", `Cannot read free disk space: ${space.error}`);
  }
  if (space.totalBytes <= 0) return result(name, "UNKNOWN", "The volume reports no size");
  const percent = _percent(space.freeBytes, space.totalBytes);
  const data = {
    free_bytes: space.freeBytes,
    total_bytes: space.totalBytes,
    free_percent: _round(percent),
  };
  const text = `${_round(percent)}% free (${formatBytes(space.freeBytes)} of ${
    formatBytes(space.totalBytes)
  })`;
  if (percent < limits.minFreeDiskPercent) {
    return result(name, "WARNING", `${text} (< ${limits.minFreeDiskPercent}%)`, data);
  }
  return result(name, "OK", text, data);
}

/** What MongoDB answered, or why it did not. */
export type MongoProbe =
  | {
    ok: true;
    pingMs: number;
    topology: "replicaSet" | "sharded" | "standalone";
    setName?: string;
  }
  | { ok: false; reason: string };

/**
 * MongoDB reachability and whether change streams are possible.
 *
 * @param probe The ping and `hello` outcome.
 * @returns The `mongodb` and `change_streams` checks.
 */
export function mongoChecks(probe: MongoProbe): [CheckResult, CheckResult] {
  if (!probe.ok) {
    return [
      result("mongodb", "CRITICAL", `MongoDB unreachable: ${probe.reason}`),
      result("change_streams", "UNKNOWN", "MongoDB unreachable"),
    ];
  }
  const ping = result("mongodb", "OK", `Ping ${probe.pingMs} ms`, { ping_ms: probe.pingMs });
  const data = { topology: probe.topology, set_name: probe.setName ?? null };
  if (probe.topology === "replicaSet") {
    return [ping, result("change_streams", "OK", `Replica set "${probe.setName}"`, data)];
  }
  if (probe.topology === "sharded") {
    return [ping, result("change_streams", "OK", "Sharded cluster", data)];
  }
  return [
    ping,
    result(
      "change_streams",
      "CRITICAL",
      "Standalone server: change streams need a replica set or sharded cluster",
      data,
    ),
  ];
}

/** The collections found. */
export interface CollectionsSeen {
  /** Collection names in the database. */
  present: readonly string[];
  /** Orders collection name. */
  orders: string;
  /** Reference collection names (clients, couriers, restaurants, menu). */
  references: readonly string[];
  /** Archive collection name. */
  archive: string;
}

/**
 * Source and archive collections present. The archive's unique index is the `archive_index`
 * check's to judge: this one never says the archive is fine.
 *
 * @param seen What the database holds.
 * @returns The `collections` check.
 */
export function collectionsCheck(seen: CollectionsSeen): CheckResult {
  const name = "collections";
  const present = new Set(seen.present);
  const missingSources = [seen.orders, ...seen.references].filter((c) => !present.has(c));
  const data = { missing: missingSources, archive_present: present.has(seen.archive) };
  if (!present.has(seen.orders)) {
    return result(name, "CRITICAL", `Missing collections: ${missingSources.join(", ")}`, data);
  }
  if (missingSources.length > 0) {
    return result(name, "WARNING", `Missing collections: ${missingSources.join(", ")}`, data);
  }
  if (!present.has(seen.archive)) {
    return result(
      name,
      "WARNING",
      `Archive collection ${seen.archive} does not exist yet (nothing archived)`,
      data,
    );
  }
  return result(
    name,
    "OK",
    `${seen.orders}, ${seen.references.join(", ")} and ${seen.archive} present`,
    data,
  );
}

/**
 * The archive's unique index on `numero_commande`, as {@link inspectArchiveIndex} found it.
 *
 * @param archive The archive collection's name.
 * @param state The accepted index, or the problem.
 * @returns The `archive_index` check: CRITICAL on any problem (orders may be archived twice).
 */
export function archiveIndexCheck(archive: string, state: ArchiveIndexState): CheckResult {
  const name = "archive_index";
  if (!state.ok) return result(name, "CRITICAL", state.problem, { index: null });
  return result(
    name,
    "OK",
    `Archive ${archive} has its unique indexes on order_id and numero_commande (${
      state.name.split(", ").map((name) => `"${name}"`).join(", ")
    })`,
    { index: state.name },
  );
}

/** The delivered orders past the grace period, as `archiver verify` counts them. */
export interface CompletenessSeen {
  /** Delivered orders older than the grace period. */
  delivered: number;
  /** Of those, archived. */
  archived: number;
  /** Of those, in the quarantine (any reason). */
  quarantined: number;
  /** Of those, released by the operator. */
  released: number;
  /** Of those, neither archived, quarantined nor released. */
  missing: number;
  /** The first missing orders (numbers, or `_id`s without one). */
  sample: readonly string[];
}

/**
 * Delivered orders past the grace period that are neither archived, quarantined nor released,
 * counted as `archiver verify` counts them.
 *
 * @param seen The counts and the first missing orders.
 * @param options The grace period, how many orders to show, and the archive index's state:
 *   without a sound one, "every order settled" is no longer a clean bill.
 * @returns The `archive_completeness` check.
 */
export function completenessCheck(
  seen: CompletenessSeen,
  options: { graceMs: number; shown?: number; archiveIndex?: ArchiveIndexState },
): CheckResult {
  const name = "archive_completeness";
  const shown = options.shown ?? 5;
  const grace = formatAge(options.graceMs);
  const data = {
    missing_orders: seen.missing,
    delivered_orders: seen.delivered,
    archived_orders: seen.archived,
    quarantined_orders: seen.quarantined,
    released_orders: seen.released,
  };
  if (seen.missing === 0) {
    const text =
      `Every delivered order older than ${grace} is archived, quarantined or released (${seen.archived} of ${seen.delivered} archived)`;
    if (options.archiveIndex && !options.archiveIndex.ok) {
      return result(
        name,
        "WARNING",
        `${text}, but without sound unique indexes on order_id and numero_commande some may be there twice (see archive_index)`,
        data,
      );
    }
    return result(name, "OK", text, data);
  }
  const examples = seen.sample.slice(0, shown);
  const listed = examples.join(", ") + (seen.missing > examples.length ? ", …" : "");
  return result(
    name,
    "CRITICAL",
    `${seen.missing} delivered order${
      seen.missing === 1 ? "" : "s"
    } older than ${grace} neither archived, quarantined nor released: ${listed}`,
    { ...data, examples },
  );
}

/** One quarantined order, as the quarantine check shows it. */
export interface QuarantinedOrder {
  /** The order number, or null when it has none usable. */
  numero_commande: string | null;
  /** The order's `_id`, as text (shown when there is no number). */
  id: string;
  /** Why it is not archived. */
  reason: QuarantineReason;
  /** What is missing or wrong. */
  detail: string;
  /** When it was first quarantined, in ms since the epoch. */
  first_seen: number;
}

/** What the quarantine holds, as read for health. */
export interface QuarantineSeen {
  /** The quarantine collection's name. */
  collection: string;
  /** How many orders each reason holds. */
  counts: Readonly<Record<QuarantineReason, number>>;
  /** How many incomplete orders were first seen before the grace period. */
  incompleteOverdue: number;
  /** The oldest invalid or failing orders, oldest first (a few). */
  failing: readonly QuarantinedOrder[];
  /** The oldest incomplete orders, oldest first (a few). */
  incomplete: readonly QuarantinedOrder[];
}

/**
 * The quarantine: empty is OK; incomplete orders are OK while younger than the grace period
 * (their references may still arrive), a WARNING past it; any invalid or failing order is
 * CRITICAL (no retry will archive it without someone fixing its data or the server).
 *
 * @param seen Counts by reason and the oldest orders.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @param shown How many orders the reason lists. @default 5
 * @returns The `quarantine` check.
 */
export function quarantineCheck(
  seen: QuarantineSeen,
  now: number,
  limits: HealthThresholds,
  shown = 5,
): CheckResult {
  const name = "quarantine";
  const { incomplete, invalid, conflict, error } = seen.counts;
  const grace = formatAge(limits.quarantineGraceMs);
  const overdue = seen.incomplete.filter((order) =>
    now - order.first_seen > limits.quarantineGraceMs
  );
  const data = {
    by_reason: { incomplete, invalid, conflict, error },
    incomplete_overdue: seen.incompleteOverdue,
    examples: [...seen.failing, ...overdue].slice(0, shown).map((order) => ({
      numero_commande: order.numero_commande,
      _id: order.id,
      reason: order.reason,
      detail: order.detail,
      first_seen: new Date(order.first_seen).toISOString(),
    })),
  };
  const total = incomplete + invalid + conflict + error;
  const listed = (orders: readonly QuarantinedOrder[], count: number) =>
    orders.slice(0, shown).map((order) =>
      `${order.numero_commande ?? `_id ${order.id}`} (${order.reason}, ${
        formatAge(Math.max(0, now - order.first_seen))
      })`
    ).join(", ") + (count > Math.min(shown, orders.length) ? ", …" : "");
  if (total === 0) return result(name, "OK", `The quarantine ${seen.collection} is empty`, data);
  const young = incomplete - seen.incompleteOverdue;
  const waiting = young > 0 ? `; ${young} incomplete within the ${grace} grace` : "";
  // Orders that wait for someone: their own data, a number another order holds, or the server.
  if (invalid + conflict + error > 0) {
    const count = invalid + conflict + error;
    const reasons = [
      invalid > 0 ? `${invalid} invalid` : "",
      conflict > 0 ? `${conflict} conflict` : "",
      error > 0 ? `${error} error` : "",
    ].filter((part) => part !== "").join(", ");
    const late = seen.incompleteOverdue > 0
      ? `; ${seen.incompleteOverdue} incomplete for more than ${grace}`
      : "";
    return result(
      name,
      "CRITICAL",
      `${count} order${
        count === 1 ? "" : "s"
      } quarantined as invalid, conflict or in error (${reasons}): ${
        listed([...seen.failing, ...overdue], count + seen.incompleteOverdue)
      }${late}${waiting}`,
      data,
    );
  }
  if (seen.incompleteOverdue > 0) {
    const count = seen.incompleteOverdue;
    return result(
      name,
      "WARNING",
      `${count} incomplete order${count === 1 ? "" : "s"} quarantined for more than ${grace}: ${
        listed(overdue, count)
      }${waiting}`,
      data,
    );
  }
  return result(
    name,
    "OK",
    `${young} incomplete order${
      young === 1 ? "" : "s"
    } quarantined for less than ${grace}: waiting for their references`,
    data,
  );
}

/**
 * A duration as people read it: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
 *
 * @param ms A duration in milliseconds.
 * @returns Its two largest units.
 */
export function formatAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const units: Array<[string, number]> = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith("0")).join(" ");
}

/**
 * A size as people read it: `512 B`, `1.5 MB`, `2.0 GB`.
 *
 * @param bytes A size in bytes.
 * @returns Its text.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function _absent(name: string, what: string, limits: HealthThresholds): CheckResult {
  if (limits.requireWatcher) {
    return result(name, "CRITICAL", `${_capitalize(what)}: the watcher has not run here`);
  }
  return skipped(name, `${what} (no watcher configured here)`);
}

function _capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function _percent(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}

function _round(value: number): number {
  return Math.round(value * 10) / 10;
}
