/**
 * `logs check` output: a short summary for people, or one JSON line.
 *
 * @module
 */

import type { LogCheckReport } from "./check.ts";
import type { Alert } from "./rules.ts";

/**
 * Renders the check as a few aligned lines.
 *
 * @param report The check's outcome.
 * @returns Lines ending with a newline.
 */
export function logCheckSummary(report: LogCheckReport): string {
  const read = report.files.filter((file) => file.read);
  const bytes = read.reduce((sum, file) => sum + file.bytes, 0);
  const p = report.patterns;
  const levels = Object.entries(report.levels).map(([level, n]) => `${level} ${n}`).join(", ");
  const lines = [
    `Window:   since ${report.since}`,
    `Files:    ${read.length} of ${report.files.length} read (${_size(bytes)})`,
    `Lines:    ${report.lines}${
      report.invalid_lines > 0 ? ` (${report.invalid_lines} not JSON log records, skipped)` : ""
    }`,
    `Levels:   ${levels}`,
    `Orders:   found ${p.found}, archived ${p.archived}, incomplete ${p.incomplete}, duplicate ${p.duplicate}`,
    `Errors:   connection failure ${p.connection_failure}, change stream error ${p.change_stream_error}, enrich error ${p.enrich_error}`,
    `Watcher:  connected ${p.connected}, change stream opened ${p.change_stream_opened}, resume token not loaded ${p.resume_token_not_loaded}, max lag ${
      report.max_stream_lag_seconds === null ? "-" : `${report.max_stream_lag_seconds}s`
    }`,
  ];
  if (report.alerts.length === 0) lines.push("Alerts:   none");
  else {
    lines.push("Alerts:");
    const width = Math.max(...report.alerts.map((alert) => alert.rule.length));
    for (const alert of report.alerts) {
      lines.push(
        `  ${alert.state.padEnd(8)}  ${
          alert.rule.padEnd(width)
        }  ${alert.count}x, last ${alert.last_at}: ${alert.last_message}`,
      );
    }
  }
  lines.push(`State:    ${report.state}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Renders one alert as `logs follow` prints it.
 *
 * @param alert The alert.
 * @returns One line, without a line ending.
 */
export function alertLine(alert: Alert): string {
  return `${alert.at} [${alert.state}] ${alert.rule}: ${alert.message}`;
}

function _size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
