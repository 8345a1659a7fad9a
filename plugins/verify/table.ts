/**
 * The verification figures as a table for people: one line per delivery day, oldest first, then
 * the totals, the first missing order numbers and the orphans.
 *
 * @module
 */

import type { VerifyCounts, VerifyReport } from "../../core/archive/verify.ts";

/** What `--repair` did, as reported beside the figures. */
export interface RepairSummary {
  /** Missing orders handed to the archiving core. */
  found: number;
  /** Of those, the ones written to the archive. */
  archived: number;
  /** Of those, the ones the core put in the quarantine (incomplete, invalid, error). */
  quarantined: number;
}

const COLUMNS = [
  "day",
  "delivered",
  "archived",
  "incomplete",
  "invalid",
  "error",
  "missing",
] as const;

/**
 * Formats a verification report as aligned columns, the day left-aligned and figures right-aligned.
 *
 * @param report The figures (after the repair, when there was one).
 * @param options What `--repair` did.
 * @returns The table and notes, without a trailing newline.
 */
export function formatVerifyReport(
  report: VerifyReport,
  options: { repaired?: RepairSummary } = {},
): string {
  const row = (day: string, counts: VerifyCounts) => [
    day,
    `${counts.delivered}`,
    `${counts.archived}`,
    `${counts.quarantined.incomplete}`,
    `${counts.quarantined.invalid}`,
    `${counts.quarantined.error}`,
    `${counts.missing}`,
  ];
  const rows = [
    [...COLUMNS],
    ...report.days.map((day) => row(day.day, day)),
    row("total", report.totals),
  ];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((r) => r[column]!.length)));
  const line = (cells: string[]) =>
    `  ${
      cells.map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)
      ).join("  ")
    }`;
  const title = report.since
    ? `Archive verification (orders delivered at or after ${report.since})`
    : "Archive verification";
  const lines = [
    title,
    ...rows.map(line),
    "  (incomplete, invalid, error: quarantined, by reason)",
  ];
  if (report.since) {
    lines.push("  Orders without a valid date_livraison are left out (--since)");
  }
  if (report.totals.missing > 0) {
    const listed = report.missing_sample.length;
    const shown = report.totals.missing > listed ? `, first ${listed} listed` : "";
    lines.push(
      "",
      `Missing: ${
        plural(report.totals.missing, "delivered order")
      } neither archived nor quarantined${shown}`,
      ...report.missing_sample.map((number) => `  ${number}`),
    );
  }
  const more = report.orphans > report.orphans_sample.length ? ", …" : "";
  lines.push(
    "",
    `Orphans: ${plural(report.orphans, "archive document")} without a delivered order${
      report.orphans > 0 ? ` (${report.orphans_sample.join(", ")}${more})` : ""
    }`,
  );
  if (options.repaired) {
    const { found, archived, quarantined } = options.repaired;
    lines.push(
      `Repaired: ${plural(found, "missing order")} handed to the archiver: ${archived} archived, ` +
        `${quarantined} quarantined`,
    );
  }
  return lines.join("\n");
}

/**
 * A count with its noun, plural unless the count is 1.
 *
 * @param count How many.
 * @param noun The singular noun phrase (`"archive document"`).
 * @returns `"1 archive document"`, `"2 archive documents"`.
 */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
