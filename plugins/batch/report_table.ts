/**
 * The batch report as a table for people.
 *
 * @module
 */

import type { BatchReport } from "../../core/archive/report.ts";
import { ExitCode } from "../../core/runtime/errors.ts";

/** How the run ended, for the table's title. */
export interface ReportTableOptions {
  /** Whether it was a dry run. */
  dryRun?: boolean;
  /** The exit code it ends with. @default 0 */
  exitCode?: number;
  /** Whether its pass ran to its end. @default true */
  finished?: boolean;
}

/**
 * Formats a report as aligned `figure  value` lines, with the shares operators watch, under a
 * title that says how the run ended: a failed or interrupted run never reads as a plain report.
 *
 * @param report The figures.
 * @param options Whether it was a dry run, its exit code and whether it finished.
 * @returns The table, without a trailing newline.
 */
export function formatReport(report: BatchReport, options: ReportTableOptions = {}): string {
  const share = (n: number) =>
    report.orders_found > 0 ? ` (${((100 * n) / report.orders_found).toFixed(1)} %)` : "";
  const rows: Array<[string, string]> = [
    ["orders_delivered", `${report.orders_delivered}`],
    ["orders_examined", `${report.orders_examined}`],
    ["orders_found", `${report.orders_found}`],
    [
      options.dryRun ? "orders_archived (would be)" : "orders_archived",
      `${report.orders_archived}${share(report.orders_archived)}`,
    ],
    ["orders_duplicates", `${report.orders_duplicates}${share(report.orders_duplicates)}`],
    ["orders_incomplete", `${report.orders_incomplete}${share(report.orders_incomplete)}`],
    ["orders_invalid", `${report.orders_invalid}`],
    ["orders_conflicts", `${report.orders_conflicts}`],
    ["orders_errors", `${report.orders_errors}`],
    ["orders_recovered", `${report.orders_recovered}`],
    ["orders_still_quarantined", `${report.orders_still_quarantined}`],
    ["orders_failed", `${report.orders_failed}`],
    ["batch_duration_ms", `${report.batch_duration_ms}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    _title(options),
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
  ].join("\n");
}

function _title(options: ReportTableOptions): string {
  const exitCode = options.exitCode ?? 0;
  const states: string[] = [];
  if (options.dryRun) states.push("dry run: nothing was written");
  if (options.finished === false) {
    states.push(
      exitCode === ExitCode.interrupted
        ? "interrupted, exit 130: run it again for the rest"
        : `failed, exit ${exitCode}: the figures are what was done before`,
    );
  } else if (exitCode !== 0) {
    states.push(`exit ${exitCode}: see orders_failed and archiver quarantine list`);
  }
  return states.length > 0 ? `Batch report (${states.join("; ")})` : "Batch report";
}
