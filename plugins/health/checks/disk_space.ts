/**
 * `disk_space`: free space on the log folder's volume. Pure: a function of what was read, the time
 * and the thresholds.
 *
 * @module
 */

import { formatBytes, percent as percentOf, round1 } from "../format.ts";
import { type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

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
  const percent = percentOf(space.freeBytes, space.totalBytes);
  const data = {
    free_bytes: space.freeBytes,
    total_bytes: space.totalBytes,
    free_percent: round1(percent),
  };
  const text = `${round1(percent)}% free (${formatBytes(space.freeBytes)} of ${
    formatBytes(space.totalBytes)
  })`;
  if (percent < limits.minFreeDiskPercent) {
    return result(name, "WARNING", `${text} (< ${limits.minFreeDiskPercent}%)`, data);
  }
  return result(name, "OK", text, data);
}
