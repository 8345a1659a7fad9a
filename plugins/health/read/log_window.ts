/**
 * One streaming pass over the log files of the health window, through the core's log reading
 * (the same `logs check` uses): errors, and the orders archived, incomplete or failed, for the
 * plan's daily checks "no error in the logs of the last 24 h" and "archive rate over 99 %".
 *
 * @module
 */

import { classify, isMonitoringLine } from "../../../core/log_files/entry.ts";
import { listLogFiles } from "../../../core/log_files/files.ts";
import { type ReadCounts, readEntries } from "../../../core/log_files/reader.ts";
import type { LogWindowSeen } from "../checks/log_errors.ts";

/**
 * Reads the log folder's lines at or after a cut-off.
 *
 * @param dir The log folder (a missing one holds nothing).
 * @param options The cut-off in ms since the epoch, and an abort signal.
 * @returns The counts.
 */
export async function readLogWindow(
  dir: string,
  options: { since: number; signal?: AbortSignal },
): Promise<LogWindowSeen> {
  const files = await listLogFiles(dir);
  const counts: ReadCounts = { lines: 0, invalid: 0, filesRead: 0 };
  const seen: LogWindowSeen = { dir, lines: 0, errors: 0, archived: 0, incomplete: 0, failed: 0 };
  for await (
    const entry of readEntries(files, { since: options.since, counts, signal: options.signal })
  ) {
    // The monitoring commands' lines (health's, logs check's) say what their checks found:
    // counting them would make a CRITICAL run the reason of the next WARNING.
    if (isMonitoringLine(entry)) continue;
    seen.lines++;
    if (entry.level === "ERROR" || entry.level === "FATAL") {
      seen.errors++;
      seen.lastError = { at: entry.time, logger: entry.logger, message: entry.message };
    }
    const signals = classify(entry);
    seen.archived += signals.archived;
    seen.incomplete += signals.incomplete;
    const reason = entry.properties.reason;
    if ((reason === "invalid" || reason === "error") && "order_id" in entry.properties) {
      seen.failed++;
    }
  }
  return seen;
}
