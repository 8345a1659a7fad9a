/**
 * `archive_rate`: the plan's daily "archive rate over 99 %", from the logs of the window. Pure: a
 * function of what was read, the time and the thresholds.
 *
 * @module
 */

import { formatAge, percent } from "../format.ts";
import { type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";
import type { LogWindowSeen } from "./log_errors.ts";

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
  const rate = Math.floor(percent(seen.archived, handled) * 10) / 10;
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
