/**
 * `last_batch`: how the last batch run ended, then its figures against the plan's rates. A run
 * that failed or stopped part-way is judged by its exit code and `finished` flag, never by the
 * zeros it may have counted; rates are judged only over enough orders. Reports written before the
 * exit code was saved are judged by their figures. Pure: a function of what was read and the
 * thresholds.
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
  const code = report.exit_code;
  if (code !== undefined && code !== 0 && code !== 1) {
    const examined = report.orders_examined !== undefined && report.orders_delivered !== undefined
      ? ` after ${report.orders_examined} of ${report.orders_delivered} delivered orders`
      : "";
    if (code === _INTERRUPTED) {
      return result(name, "WARNING", `Last batch was interrupted${examined} (exit 130)`, {
        ...data,
        exit_code: code,
        finished: report.finished ?? false,
      });
    }
    return result(
      name,
      "CRITICAL",
      `Last batch failed with exit code ${code} (${_EXIT_MEANINGS[code] ?? "see the batch's log"})${
        report.finished === false ? `, stopped${examined}` : ""
      }`,
      { ...data, exit_code: code, finished: report.finished ?? false },
    );
  }
  if (code === 1 && (report.orders_failed ?? 0) > 0) {
    const failed = report.orders_failed!;
    return result(
      name,
      "CRITICAL",
      `Last batch could not archive ${failed} order${failed === 1 ? "" : "s"} (invalid ${
        report.orders_invalid ?? 0
      }, conflicts ${report.orders_conflicts ?? 0}, errors ${
        report.orders_errors ?? 0
      }, still quarantined ${report.orders_still_quarantined ?? 0}): see archiver quarantine list`,
      { ...data, exit_code: code, orders_failed: failed },
    );
  }
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
  // A handful of orders makes any share large: rates need enough of them.
  if (found >= limits.rateMinOrders) {
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

const _INTERRUPTED = 130;

const _EXIT_MEANINGS: Record<number, string> = {
  2: "refused by MongoDB or misconfigured",
  3: "MongoDB unreachable",
  70: "internal error",
};
