/**
 * The batch report as a table for people.
 *
 * @module
 */

import type { BatchReport } from "../../core/archive/report.ts";

/**
 * Formats a report as aligned `figure  value` lines, with the shares operators watch.
 *
 * @param report The figures.
 * @param options Whether it was a dry run.
 * @returns The table, without a trailing newline.
 */
export function formatReport(report: BatchReport, options: { dryRun?: boolean } = {}): string {
  const share = (n: number) =>
    report.orders_found > 0 ? ` (${((100 * n) / report.orders_found).toFixed(1)} %)` : "";
  const rows: Array<[string, string]> = [
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
    ["batch_duration_ms", `${report.batch_duration_ms}`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const title = options.dryRun ? "Batch report (dry run: nothing was written)" : "Batch report";
  return [title, ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)].join("\n");
}
