/**
 * `watcher_uptime`: the plan's daily "watch service running, uptime over 23 h". Pure: a function of
 * what was read, the time and the thresholds.
 *
 * @module
 */

import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import { formatAge } from "../format.ts";
import type { FileRead } from "../read/file_read.ts";
import { absent, type CheckResult, result, skipped } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";
import { staleHeartbeatThreshold } from "./watcher.ts";

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
  if (read.kind === "missing") return absent(name, `no status file ${read.path}`, limits);
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
