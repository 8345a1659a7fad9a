/**
 * The batch report: the operators' figures for one run, the arithmetic that builds them from
 * per-batch outcomes, their table and JSON forms, and the last-batch file health reads.
 *
 * @module
 */

import { readJsonFile, writeFileAtomic } from "../runtime/atomic_file.ts";

/** The figures of one batch run, named as in the operators' monitoring plan. */
export interface BatchReport {
  /** Delivered, not-yet-archived orders the run selected. */
  orders_found: number;
  /** Orders written to the archive by this run. */
  orders_archived: number;
  /** Orders already in the archive when written (replays, a concurrent watcher). */
  orders_duplicates: number;
  /** Orders left out because a reference resolves to nothing. */
  orders_incomplete: number;
  /** Orders that could not be archived for a reason of their own (quarantined as `error`). */
  orders_errors: number;
  /** Orders quarantined as invalid: no order number, or a field the archive needs mistyped. */
  orders_invalid: number;
  /** Orders archived from the quarantine (completed or fixed since an earlier run). */
  orders_recovered: number;
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
  return {
    orders_found: 0,
    orders_archived: 0,
    orders_duplicates: 0,
    orders_incomplete: 0,
    orders_errors: 0,
    orders_invalid: 0,
    orders_recovered: 0,
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
