/**
 * `logs check` output: a short summary for people, or one JSON line.
 *
 * @module
 */

import { counted } from "../../core/runtime/plural.ts";
import { type PerfDatum, pluginStatusLine, SERVICE_LABEL } from "../../core/runtime/status_line.ts";
import type { LogCheckReport } from "./check.ts";
import type { Alert, LogRules } from "./rules.ts";

/** The service label of `logs check`'s status line. */
export const LOGS_SERVICE_LABEL = `${SERVICE_LABEL} LOGS`;

/**
 * The first line of `logs check`, in the monitoring-plugin format health uses:
 * `ARCHIVER LOGS <STATE> - <summary> | <perfdata>`. The summary names the alerts at the worst
 * state with their last message (the others named after them); the performance data are the
 * errors, warnings, connection failures, largest stream lag, orders and incomplete percent over
 * the window, with the rules' limits as thresholds.
 *
 * @param report The check's outcome.
 * @param rules The rules' limits.
 * @returns One line, without a line ending.
 * @example
 * ```ts
 * logsStatusLine(report, rules);
 * // ARCHIVER LOGS OK - no alert since 2025-10-15T12:00:00.000Z (1204 lines, 980 orders)
 * //   | errors=0;;0;0 warnings=3;;;0 connection_failures=0;;3;0 … incomplete=1%;10;;0;100
 * ```
 */
export function logsStatusLine(report: LogCheckReport, rules: LogRules): string {
  const p = report.patterns;
  const orders = _orders(report);
  let summary: string;
  if (report.state === "OK") {
    summary = `no alert since ${report.since} (${counted(report.lines, "line")}, ${
      counted(orders, "order")
    })`;
  } else {
    const worst = report.alerts.filter((alert) => alert.state === report.state);
    const others = report.alerts.filter((alert) => alert.state !== report.state);
    summary = worst.map((alert) => `${alert.rule}: ${alert.last_message}`).join("; ");
    if (others.length > 0) {
      summary += ` (also ${others[0]!.state}: ${others.map((alert) => alert.rule).join(", ")})`;
    }
  }
  const perf: PerfDatum[] = [
    {
      label: "errors",
      value: (report.levels.ERROR ?? 0) + (report.levels.FATAL ?? 0),
      crit: "0",
      min: 0,
    },
    { label: "warnings", value: report.levels.WARN ?? 0, min: 0 },
    {
      label: "connection_failures",
      value: p.connection_failure,
      crit: String(rules.maxConnectionErrors),
      min: 0,
    },
  ];
  if (report.max_stream_lag_seconds !== null) {
    perf.push({
      label: "stream_lag_max",
      value: report.max_stream_lag_seconds,
      uom: "s",
      warn: String(rules.maxLagSeconds),
      min: 0,
    });
  }
  perf.push({ label: "orders", value: orders, min: 0 });
  if (orders > 0) {
    perf.push({
      label: "incomplete",
      value: (p.incomplete / orders) * 100,
      uom: "%",
      warn: String(rules.maxIncompletePercent),
      min: 0,
      max: 100,
    });
  }
  return pluginStatusLine(report.state, { service: LOGS_SERVICE_LABEL, summary, perf });
}

/**
 * Renders the check as its status line, then a few aligned lines.
 *
 * @param report The check's outcome.
 * @param rules The rules' limits, for the status line's thresholds.
 * @returns Lines ending with a newline.
 */
export function logCheckSummary(report: LogCheckReport, rules: LogRules): string {
  const read = report.files.filter((file) => file.read);
  const bytes = read.reduce((sum, file) => sum + file.bytes, 0);
  const p = report.patterns;
  const levels = Object.entries(report.levels).map(([level, n]) => `${level} ${n}`).join(", ");
  const lines = [
    logsStatusLine(report, rules),
    `Window:   since ${report.since}`,
    `Files:    ${read.length} of ${report.files.length} read (${_size(bytes)})`,
    `Lines:    ${report.lines}${
      report.invalid_lines > 0 ? ` (${report.invalid_lines} not JSON log records, skipped)` : ""
    }${
      report.monitoring_lines > 0
        ? ` (${report.monitoring_lines} of health and logs, not judged)`
        : ""
    }`,
    `Levels:   ${levels}`,
    `Orders:   found ${p.found}, archived ${p.archived}, incomplete ${p.incomplete}, duplicate ${p.duplicate}, invalid ${p.invalid}, error ${p.error}${
      p.dry_run > 0 ? ` (${counted(p.dry_run, "dry run")} not counted)` : ""
    }`,
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

function _orders(report: LogCheckReport): number {
  const p = report.patterns;
  return p.archived + p.duplicate + p.incomplete + p.invalid + p.error;
}

function _size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
