/**
 * The health report for people (an aligned table) and for machines (one JSON line).
 *
 * @module
 */

import type { HealthReport } from "./run.ts";

/**
 * Renders the report as an aligned table followed by the overall state.
 *
 * @param report The health report.
 * @returns Lines ending with a newline.
 */
export function healthTable(report: HealthReport): string {
  const rows = [
    ["STATE", "CHECK", "REASON"],
    ...report.checks.map((check) => [
      check.state,
      check.name,
      check.reason,
    ]),
  ];
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) =>
    `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`.trimEnd()
  );
  const count = report.checks.length;
  lines.push(
    "",
    `Overall: ${report.state} (${count} checks in ${(report.duration_ms / 1000).toFixed(1)}s)`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * Renders the report as one JSON object on a single line.
 *
 * @param report The health report.
 * @param statusLine The monitoring-plugin status line, kept as `status_line`.
 * @returns The JSON text, without a line ending.
 */
export function healthJson(report: HealthReport, statusLine?: string): string {
  return JSON.stringify(statusLine === undefined ? report : { ...report, status_line: statusLine });
}
