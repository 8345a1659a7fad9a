/**
 * The first line of `archiver health`: the monitoring-plugin status line Nagios, Icinga and
 * their kin read (`ARCHIVER <STATE> - <summary> | <perfdata>`), its performance data in the
 * plugin guidelines' format `'label'=value[UOM];[warn];[crit];[min];[max]`, the thresholds being
 * the configured ones. Pure: a function of the report and the thresholds.
 *
 * @module
 */

import type { CheckResult, HealthState } from "./state.ts";
import type { HealthThresholds } from "./thresholds.ts";

// The format is the core's, shared with `logs check`; re-exported for health's readers.
import { formatPerfDatum, type PerfDatum, SERVICE_LABEL } from "../../core/runtime/status_line.ts";
export { formatPerfDatum, type PerfDatum, SERVICE_LABEL };

/**
 * The status line: overall state, the checks at the worst state with their reasons (the others
 * not OK named after them), and the performance data.
 *
 * @param report The overall state and every check.
 * @param limits The thresholds, for the perfdata's warn and crit.
 * @returns One line, without a line ending.
 * @example
 * ```ts
 * statusLine(report, thresholds);
 * // ARCHIVER WARNING - watcher_uptime: Watcher up 2h 5m: (re)started within the last 23h
 * //   | stream_lag=1.2s;10;30;0 resume_token_age=3s;600;3600;0 …
 * ```
 */
export function statusLine(
  report: { state: HealthState; checks: readonly CheckResult[] },
  limits: HealthThresholds,
): string {
  const perf = perfData(report.checks, limits).map(formatPerfDatum).join(" ");
  const summary = _summary(report.state, report.checks);
  return `${SERVICE_LABEL} ${report.state} - ${summary}${perf ? ` | ${perf}` : ""}`;
}

/**
 * The performance data of the checks that measured something: stream lag and resume-token age
 * (seconds), free disk (%), the quarantine by reason, the log folder (bytes), the watcher's
 * uptime, the errors in the logs and the archive rate.
 *
 * @param checks The checks.
 * @param limits The thresholds.
 * @returns The data, in a fixed order.
 */
export function perfData(checks: readonly CheckResult[], limits: HealthThresholds): PerfDatum[] {
  const data = (name: string) => checks.find((check) => check.name === name)?.data ?? {};
  const out: PerfDatum[] = [];
  const add = (datum: Omit<PerfDatum, "value">, value: unknown) => {
    if (typeof value === "number" && Number.isFinite(value)) out.push({ ...datum, value });
  };
  add({
    label: "stream_lag",
    uom: "s",
    warn: _n(limits.lagWarnSeconds),
    crit: _n(limits.lagCriticalSeconds),
    min: 0,
  }, data("stream_lag").stream_lag_seconds);
  add({
    label: "resume_token_age",
    uom: "s",
    warn: _n(limits.tokenSaveAgeMs / 1000),
    crit: _n(limits.maxTokenAgeMs / 1000),
    min: 0,
  }, data("resume_token").resume_token_age_seconds);
  add({
    label: "disk_free",
    uom: "%",
    warn: `${_n(limits.minFreeDiskPercent)}:`,
    min: 0,
    max: 100,
  }, data("disk_space").free_percent);
  add({
    label: "oplog_window",
    uom: "s",
    min: 0,
  }, data("oplog_headroom").oplog_window_seconds);
  add({
    label: "resume_headroom",
    uom: "s",
    warn: `${_n(limits.oplogHeadroomWarningMs / 1000)}:`,
    crit: `${_n(limits.oplogHeadroomCriticalMs / 1000)}:`,
  }, data("oplog_headroom").resume_headroom_seconds);
  const byReason = data("quarantine").by_reason as Record<string, unknown> | undefined;
  if (byReason) {
    add({ label: "quarantine_incomplete", min: 0 }, byReason.incomplete);
    // Any invalid or failing order is CRITICAL: the range 0 alerts above 0.
    add({ label: "quarantine_invalid", crit: "0", min: 0 }, byReason.invalid);
    add({ label: "quarantine_error", crit: "0", min: 0 }, byReason.error);
  }
  add(
    { label: "log_folder", uom: "B", warn: _n(limits.maxLogDirBytes), min: 0 },
    data("log_folder").log_dir_bytes,
  );
  if (limits.minUptimeMs > 0) {
    add({
      label: "watcher_uptime",
      uom: "s",
      warn: `${_n(limits.minUptimeMs / 1000)}:`,
      min: 0,
    }, data("watcher_uptime").uptime_seconds);
  }
  add(
    { label: "log_errors", warn: _n(limits.maxLogErrors), min: 0 },
    data("log_errors").log_errors,
  );
  add({
    label: "archive_rate",
    uom: "%",
    warn: `${_n(limits.archiveRateMinPercent)}:`,
    min: 0,
    max: 100,
  }, data("archive_rate").archive_rate_percent);
  return out;
}

const _RANK: Record<HealthState, number> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

function _summary(state: HealthState, checks: readonly CheckResult[]): string {
  if (state === "OK") {
    return `${checks.length} checks OK`;
  }
  const worst = checks.filter((check) => check.state === state);
  const named = worst.map((check) => `${check.name}: ${_short(check.reason)}`).join("; ");
  const others = (["CRITICAL", "UNKNOWN", "WARNING"] as const)
    .filter((other) => other !== state && _RANK[other] > 0)
    .map((other) => {
      const names = checks.filter((check) => check.state === other).map((check) => check.name);
      return names.length > 0 ? `${other}: ${names.join(", ")}` : "";
    })
    .filter((text) => text !== "");
  return _clean(others.length > 0 ? `${named} (also ${others.join("; ")})` : named);
}

function _short(reason: string): string {
  const line = reason.split("\n")[0] ?? "";
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

// `|` starts the performance data: the text must not hold one.
function _clean(text: string): string {
  return text.replaceAll("|", "/").replace(/\s+/g, " ");
}

function _n(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}
