/**
 * The batch report: the operators' figures for one run, the arithmetic that builds them from
 * per-batch outcomes, their table and JSON forms, and the last-batch file health reads.
 *
 * @module
 */

import { readJsonFile, writeFileAtomic } from "../runtime/atomic_file.ts";
import { emptyOutcomeCounts, type OrderFigures, orderFigures } from "../runtime/outcome.ts";

/**
 * The figures of one batch run, named as in the operators' monitoring plan: `orders_delivered`
 * (delivered orders in the window, archived or not: what the run's first line says),
 * `orders_examined` (of those, the ones the run read: all of them when it finished),
 * `orders_found` (of those, the ones not yet archived), the outcome counts under their plan names
 * (`orders_archived`, `orders_duplicates`, `orders_incomplete`, `orders_invalid`,
 * `orders_conflicts`, `orders_errors`, `orders_recovered`: core/runtime/outcome.ts),
 * `orders_still_quarantined`, `orders_failed` and `batch_duration_ms`.
 *
 * Each order counts once, when first seen: `orders_incomplete`, `orders_invalid`,
 * `orders_conflicts` and `orders_errors` count the orders this run put in the quarantine; those
 * an earlier run (or a watcher) put there, tried again and still not archivable, are
 * `orders_still_quarantined`. So a rate over `orders_found` means new problems.
 */
export interface BatchReport extends OrderFigures {
  /** Delivered orders in the window (all of them without one), archived or not. */
  orders_delivered: number;
  /** Of those, the orders the run read (all of them when it finished). */
  orders_examined: number;
  /** Of those, the delivered orders not yet archived: what the run had to do. */
  orders_found: number;
  /** Orders already quarantined before this run, tried again and still there. */
  orders_still_quarantined: number;
  /**
   * Orders that need the operator: quarantined as invalid, conflict or error, by this run or
   * still there from before. The run exits 1 when there is one.
   */
  orders_failed: number;
  /** Wall time of the run. */
  batch_duration_ms: number;
}

/**
 * How a run ended, beside its figures in the saved report and in `--json`: whether it was a dry
 * run, whether its pass ran to its end, and its exit code. What health judges the last batch by.
 */
export interface BatchRunStatus {
  /** Whether it was a dry run (never saved, but said in `--json`). */
  dry_run: boolean;
  /**
   * Whether the pass ran to its end: every delivered order examined, or `--limit` reached.
   * False when the run was interrupted (exit 130) or failed (exit 2, 3, 70).
   */
  finished: boolean;
  /** The exit code: 0 ok, 1 orders failed, 2 refused or misconfigured, 3 unreachable, 130. */
  exit_code: number;
}

/** The figures a report written by an older version lacks. */
type _AddedFigures =
  | "orders_delivered"
  | "orders_examined"
  | "orders_still_quarantined"
  | "orders_failed";

/**
 * A saved report: the figures, when the run happened and how it ended. Reports written before
 * `finished`, `exit_code` and the figures that came with them existed lack them: judge those by
 * the figures they have.
 */
export interface SavedBatchReport
  extends
    Omit<BatchReport, _AddedFigures>,
    Partial<Pick<BatchReport, _AddedFigures>>,
    Partial<BatchRunStatus> {
  /** ISO time the run started. */
  started_at: string;
  /** ISO time the run ended (whether or not it finished its pass). */
  finished_at: string;
  /** Whether it was a dry run (never saved by batch, but kept for completeness). */
  dry_run: boolean;
}

/** An empty report, to add batch outcomes to. */
export function emptyReport(): BatchReport {
  return {
    orders_delivered: 0,
    orders_examined: 0,
    orders_found: 0,
    ...orderFigures(emptyOutcomeCounts()),
    orders_still_quarantined: 0,
    orders_failed: 0,
    batch_duration_ms: 0,
  };
}

/**
 * Saves the last batch report atomically.
 *
 * @param path The report file.
 * @param report The figures and times.
 */
export async function saveBatchReport(path: string, report: SavedBatchReport): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
}

/**
 * Loads the last batch report.
 *
 * @param path The report file.
 * @returns The report, or `undefined` when no batch has saved one.
 * @throws {SyntaxError} When the file is not a report.
 */
export async function loadBatchReport(path: string): Promise<SavedBatchReport | undefined> {
  const value = await readJsonFile(path);
  if (value === undefined) return undefined;
  if (
    typeof value !== "object" || value === null ||
    typeof (value as SavedBatchReport).orders_found !== "number"
  ) {
    throw new SyntaxError(`${path} is not a batch report`);
  }
  return value as SavedBatchReport;
}
