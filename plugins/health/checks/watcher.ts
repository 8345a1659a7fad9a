/**
 * `watcher`: the watcher is there — status file present, heartbeat fresh, not stopped, not stalled,
 * and on its host its process still running. Pure: a function of what was read, the time and the
 * thresholds.
 *
 * @module
 */

import type { ProcessLiveness } from "../../../core/runtime/proc.ts";
import { STALE_HEARTBEATS } from "../../../core/runtime/state_files.ts";
import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import { formatAge } from "../format.ts";
import type { FileRead } from "../read/file_read.ts";
import { absent, type CheckResult, result } from "../state.ts";
import { type HealthThresholds, MIN_STREAM_STALL_MS, STALL_AWAIT_PERIODS } from "../thresholds.ts";

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
  if (read.kind === "missing") return absent(name, `no status file ${read.path}`, limits);
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
