/**
 * `log_errors`: the plan's daily "no error in the logs of the last 24 h". Pure: a function of what
 * was read, the time and the thresholds.
 *
 * @module
 */

import { formatAge, oneLine } from "../format.ts";
import { type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

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
      ? `, last ${seen.lastError.logger}: ${oneLine(seen.lastError.message)}`
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
