/**
 * `last_batch`: the last batch run's figures against the plan's rates. Pure: a function of what was
 * read, the time and the thresholds.
 *
 * @module
 */

import type { SavedBatchReport } from "../../../core/archive/report.ts";
import { percent, round1 } from "../format.ts";
import type { FileRead } from "../read/file_read.ts";
import { type CheckResult, result, skipped } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/**
 * The last batch run's figures against the plan's rates.
 *
 * @param read The last batch report as read.
 * @param limits The thresholds.
 * @returns The `last_batch` check.
 */
export function lastBatchCheck(
  read: FileRead<SavedBatchReport>,
  limits: HealthThresholds,
): CheckResult {
  const name = "last_batch";
  if (read.kind === "missing") return skipped(name, `no batch report ${read.path}`);
  if (read.kind === "invalid") {
    return result(name, "CRITICAL", `Cannot read batch report ${read.path}: ${read.reason}`);
  }
  const report = read.value;
  const found = report.orders_found;
  const data = {
    finished_at: report.finished_at ?? null,
    orders_found: found,
    orders_archived: report.orders_archived,
    orders_duplicates: report.orders_duplicates,
    orders_incomplete: report.orders_incomplete,
    orders_errors: report.orders_errors,
  };
  const figures = `found ${found}, archived ${report.orders_archived}, duplicates ${
    report.orders_duplicates ?? 0
  }, incomplete ${report.orders_incomplete ?? 0}, errors ${report.orders_errors ?? 0}`;
  if ((report.orders_errors ?? 0) > 0) {
    return result(
      name,
      "CRITICAL",
      `Last batch had ${report.orders_errors} error${
        report.orders_errors === 1 ? "" : "s"
      } (${figures})`,
      data,
    );
  }
  const problems: string[] = [];
  if (found > 0) {
    const archived = percent(report.orders_archived ?? 0, found);
    const duplicates = percent(report.orders_duplicates ?? 0, found);
    const incomplete = percent(report.orders_incomplete ?? 0, found);
    if (archived < limits.archivedMinPercent) {
      problems.push(`archived ${round1(archived)}% < ${limits.archivedMinPercent}%`);
    }
    if (duplicates > limits.duplicatesMaxPercent) {
      problems.push(`duplicates ${round1(duplicates)}% > ${limits.duplicatesMaxPercent}%`);
    }
    if (incomplete > limits.incompleteMaxPercent) {
      problems.push(`incomplete ${round1(incomplete)}% > ${limits.incompleteMaxPercent}%`);
    }
  }
  if (problems.length > 0) {
    return result(name, "WARNING", `Last batch: ${problems.join(", ")} (${figures})`, data);
  }
  return result(name, "OK", `Last batch: ${figures}`, data);
}
