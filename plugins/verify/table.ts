/**
 * The verification figures as a table for people: one line per delivery day, oldest first, then
 * the totals, the first missing order numbers and the archive's anomalies.
 *
 * @module
 */

import type { ArchiveAnomaly, VerifyCounts, VerifyReport } from "../../core/archive/verify.ts";

/** What `--repair` did, as reported beside the figures. */
export interface RepairSummary {
  /** Missing orders handed to the archiving core. */
  found: number;
  /** Of those, the ones written to the archive. */
  archived: number;
  /** Of those, the ones the core put in the quarantine (incomplete, invalid, conflict, error). */
  quarantined: number;
}

const COLUMNS = [
  "day",
  "delivered",
  "archived",
  "incomplete",
  "invalid",
  "conflict",
  "error",
  "released",
  "missing",
] as const;

/** How the table names each anomaly, and what it counts. */
const ANOMALY_LINES: Record<ArchiveAnomaly, [label: string, noun: string]> = {
  order_gone: ["order gone", "archive document"],
  not_delivered: ["order no longer delivered", "archive document"],
  number_mismatch: ["order renumbered since", "archive document"],
  duplicate_order_id: ["several documents for one order", "order"],
};

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
    `${counts.quarantined.conflict}`,
    `${counts.quarantined.error}`,
    `${counts.released}`,
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
    "  (incomplete, invalid, conflict, error: quarantined, by reason; released: by the operator)",
  ];
  if (report.totals.purged > 0) {
    lines.push(
      `  Of the archived, ${
        plural(report.totals.purged, "order")
      } purged from the source by archiver purge (recorded with their archived copy)`,
    );
  }
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
      } neither archived, quarantined nor released${shown}`,
      ...report.missing_sample.map((number) => `  ${number}`),
    );
  }
  if (report.archived_by_number > 0) {
    lines.push(
      "",
      `Archived by number: ${
        plural(report.archived_by_number, "order")
      } found only through an archive document without order_id (an older version's)`,
    );
  }
  const labels = Object.values(ANOMALY_LINES).map(([label]) => label);
  const width = Math.max(...labels.map((label) => label.length)) + 1;
  lines.push("", "Archive anomalies (reported, never repaired):");
  for (const [anomaly, [label, noun]] of Object.entries(ANOMALY_LINES)) {
    const { count, sample } = report.anomalies[anomaly as ArchiveAnomaly];
    const more = count > sample.length ? ", …" : "";
    lines.push(
      `  ${`${label}:`.padEnd(width)} ${plural(count, noun)}${
        count > 0 ? ` (${sample.join(", ")}${more})` : ""
      }`,
    );
  }
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
