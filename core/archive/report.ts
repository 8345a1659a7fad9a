/**
 * The batch report: the operators' figures for one run, the arithmetic that builds them from
 * per-batch outcomes, their table and JSON forms, and the last-batch file health reads.
 *
 * @module
 */

import { readJsonFile, writeFileAtomic } from "../runtime/atomic_file.ts";
import { emptyOutcomeCounts, type OrderFigures, orderFigures } from "./outcome.ts";

/**
 * The figures of one batch run, named as in the operators' monitoring plan: `orders_found`
 * (delivered, not-yet-archived orders the run selected), the outcome counts under their plan
 * names (`orders_archived`, `orders_duplicates`, `orders_incomplete`, `orders_invalid`,
 * `orders_conflicts`, `orders_errors`, `orders_recovered`: core/archive/outcome.ts) and
 * `batch_duration_ms`.
 */
export interface BatchReport extends OrderFigures {
  /** Delivered, not-yet-archived orders the run selected. */
  orders_found: number;
  /** Wall time of the run. */
  batch_duration_ms: number;
}

/** A saved report: the figures plus when and how the run happened. */
export interface SavedBatchReport extends BatchReport {
  /** ISO time the run started. */
  started_at: string;
  /** ISO time the run ended. */
  finished_at: string;
  /** Whether it was a dry run (never saved by batch, but kept for completeness). */
  dry_run: boolean;
}

/** An empty report, to add batch outcomes to. */
export function emptyReport(): BatchReport {
  return { orders_found: 0, ...orderFigures(emptyOutcomeCounts()), batch_duration_ms: 0 };
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
