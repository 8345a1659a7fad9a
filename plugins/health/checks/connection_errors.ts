/**
 * `connection_errors`: the watcher's connection errors of the last hour. Pure: a function of what
 * was read, the time and the thresholds.
 *
 * @module
 */

import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import type { FileRead } from "../read/file_read.ts";
import { absent, type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

const _HOUR_MS = 3_600_000;

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
  if (read.kind === "missing") return absent(name, `no status file ${read.path}`, limits);
  if (read.kind === "invalid") return result(name, "UNKNOWN", `No readable status file`);
  const times = Array.isArray(read.value.recent_connection_errors)
    ? read.value.recent_connection_errors
    : [];
  const count = times.filter((time) => {
    const at = Date.parse(time);
    return !Number.isNaN(at) && at >= now - _HOUR_MS && at <= now + 60_000;
  }).length;
  const data = { connection_errors_last_hour: count };
  const text = `${count} connection error${count === 1 ? "" : "s"} in the last hour`;
  if (count > limits.maxConnectionErrors) {
    return result(name, "CRITICAL", `${text} (> ${limits.maxConnectionErrors})`, data);
  }
  return result(name, "OK", text, data);
}
