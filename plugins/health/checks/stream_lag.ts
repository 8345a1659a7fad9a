/**
 * `stream_lag`: the change stream's lag, from the watcher's status. Pure: a function of what was
 * read, the time and the thresholds.
 *
 * @module
 */

import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import { round1 } from "../format.ts";
import type { FileRead } from "../read/file_read.ts";
import { absent, type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/**
 * The change stream's lag, from the watcher's status.
 *
 * @param read The status file as read.
 * @param limits The thresholds.
 * @returns The `stream_lag` check.
 */
export function streamLagCheck(read: FileRead<WatchStatus>, limits: HealthThresholds): CheckResult {
  const name = "stream_lag";
  if (read.kind === "missing") return absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") return result(name, "UNKNOWN", `No readable status file`);
  const lag = read.value.metrics?.stream_lag_seconds;
  if (typeof lag !== "number" || !Number.isFinite(lag)) {
    return result(name, "UNKNOWN", "The status file has no stream_lag_seconds");
  }
  const data = { stream_lag_seconds: lag };
  const shown = `${round1(lag)}s`;
  if (lag > limits.lagCriticalSeconds) {
    return result(name, "CRITICAL", `Stream lag ${shown} (> ${limits.lagCriticalSeconds}s)`, data);
  }
  if (lag > limits.lagWarnSeconds) {
    return result(name, "WARNING", `Stream lag ${shown} (> ${limits.lagWarnSeconds}s)`, data);
  }
  return result(name, "OK", `Stream lag ${shown}`, data);
}
