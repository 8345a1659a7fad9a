/**
 * The purge report as a table for people.
 *
 * @module
 */

import type { PurgeReport } from "../../core/archive/purge_report.ts";

/**
 * Formats a report as aligned `figure  value` lines, then the months and the pauses.
 *
 * @param report The figures.
 * @returns The table, without a trailing newline.
 */
export function formatPurgeReport(report: PurgeReport): string {
  const would = report.dry_run ? " (would be)" : "";
  const rows: Array<[string, string]> = [
    ["archived_before", report.archived_before],
    ["orders_examined", `${report.orders_examined}`],
    [`orders_purged${would}`, `${report.orders_purged}`],
    [`bytes_purged${would}`, `${report.bytes_purged}`],
    ["orders_changed (since archived, left)", `${report.orders_changed}`],
    ["orders_no_proof (archived by an older version)", `${report.orders_no_proof}`],
    ["orders_held (legal hold)", `${report.orders_held}`],
    ["orders_excluded (--exclude)", `${report.orders_excluded}`],
    ["orders_gone (not in the source)", `${report.orders_gone}`],
    [`orders_rearchived${would}`, `${report.orders_rearchived}`],
  ];
  if (report.orders_put_back > 0) rows.push(["orders_put_back", `${report.orders_put_back}`]);
  if (report.pending_reconciled > 0) {
    rows.push(["pending_reconciled", `${report.pending_reconciled}`]);
  }
  rows.push(["chunks", `${report.chunks}`], ["round_trips", `${report.round_trips}`]);
  if (report.dry_run) {
    rows.push(["index_used", report.index_used ?? "none (a collection scan)"]);
    rows.push([
      "time_at_max_rate",
      report.seconds_at_rate == null ? "no --max-rate" : `${report.seconds_at_rate}s`,
    ]);
  } else {
    rows.push(["rate_per_second", `${report.rate_per_second}`]);
    for (const [reason, pause] of Object.entries(report.pauses)) {
      rows.push([`paused_for_${reason}`, `${pause.count} (${pause.seconds.toFixed(1)}s)`]);
    }
    rows.push([
      "lag_seconds",
      report.lag_seconds === null
        ? "not measured"
        : `${report.lag_seconds.toFixed(1)} (${report.lag_measured_by})`,
    ]);
    if (report.stopped) rows.push(["stopped", report.stopped]);
  }
  rows.push(["duration_ms", `${report.duration_ms}`]);
  const width = Math.max(...rows.map(([name]) => name.length));
  const title = report.dry_run ? "Purge report (dry run: nothing was deleted)" : "Purge report";
  const lines = [title, ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)];
  const months = Object.entries(report.months).sort(([a], [b]) => a < b ? -1 : 1);
  if (months.length > 0) {
    lines.push("", `  ${"month".padEnd(8)}  ${"orders".padStart(8)}  ${"bytes".padStart(12)}`);
    for (const [month, figures] of months) {
      lines.push(
        `  ${month.padEnd(8)}  ${String(figures.orders).padStart(8)}  ${
          String(figures.bytes).padStart(12)
        }`,
      );
    }
  }
  return lines.join("\n");
}
