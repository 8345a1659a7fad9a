/**
 * The backfill pass: every delivered order in a delivery-date window that is not yet archived,
 * streamed with a cursor and archived batch by batch through the shared core. `archiver batch`
 * is this pass with a report; `archiver watch` runs it to cover the gap before it streams.
 *
 * @module
 */

import type { Document } from "mongodb";
import { type ArchiveOptions, archiveOrders, type OrderRef } from "./archiver.ts";
import { type BatchReport, emptyReport } from "./report.ts";
import { orderFilter } from "./enrich.ts";
import { retryTransient } from "../mongo/retry.ts";

/** What a backfill selects and how it reports progress. */
export interface BackfillOptions extends Omit<ArchiveOptions, "reportedIncomplete"> {
  /** The delivered status value. */
  deliveredStatus: string;
  /** Delivered at or after. */
  from?: Date;
  /** Delivered before. */
  to?: Date;
  /** Orders per batch. */
  batchSize: number;
  /** Stop once this many not-yet-archived orders were found. @default Infinity */
  limit?: number;
  /** Called with the total before streaming. */
  onStart?: (total: number) => void | Promise<void>;
  /** Called after each batch with the orders examined so far. */
  onProgress?: (processed: number, total: number) => void;
  /** Called with each batch's archive documents (written, or would-be in a dry run). */
  onDocuments?: (documents: Document[]) => void;
}

/** What a backfill did. */
export interface BackfillResult {
  /** The operators' figures (duration left at 0 for the caller to set). */
  report: BatchReport;
  /** Delivered orders in the window, archived or not. */
  total: number;
  /** Whether it stopped early because its signal was aborted. */
  interrupted: boolean;
}

/**
 * Archives every delivered, not-yet-archived order in the window. A transient failure reopens
 * the cursor where it stopped (the last delivery date read); retries are bounded, after which
 * the error is thrown.
 *
 * @param options Database, names, window, batch size and callbacks.
 * @returns The figures and whether it was interrupted.
 */
export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const { db, names, log, signal, batchSize } = options;
  const limit = options.limit ?? Infinity;
  const withRetry = <T>(what: string, fn: () => Promise<T>) =>
    retryTransient(what, fn, { log, signal, onTransientError: options.onTransientError });
  const report = emptyReport();
  const reportedIncomplete = new Set<string>();
  const filter = orderFilter({
    status: options.deliveredStatus,
    from: options.from,
    to: options.to,
  });
  const total = await withRetry(
    "Counting delivered orders",
    () => db.collection(names.orders).countDocuments(filter),
  );
  await options.onStart?.(total);

  let processed = 0;
  const processChunk = async (chunk: OrderRef[]) => {
    const outcome = await archiveOrders(chunk, { ...options, reportedIncomplete });
    report.orders_found += chunk.length - outcome.alreadyArchived;
    report.orders_archived += outcome.archived;
    report.orders_duplicates += outcome.duplicates;
    report.orders_incomplete += outcome.incomplete;
    report.orders_errors += outcome.errors;
    if (outcome.documents.length > 0) options.onDocuments?.(outcome.documents);
    processed += chunk.length;
    options.onProgress?.(processed, total);
  };

  // Where to pick up after a transient failure: the last delivery date read, and the orders read
  // at exactly that date. The cursor follows the (status, date_livraison) index, so a reopened
  // cursor starts where the lost one stopped instead of re-reading the window.
  let resume: { date: Date; ids: unknown[] } | undefined;
  const resumeFilter = () => {
    if (!resume) return filter;
    const window = { ...(filter.date_livraison ?? {}), $gte: resume.date };
    return { ...filter, date_livraison: window, _id: { $nin: resume.ids } };
  };
  const remember = (chunk: OrderRef[]) => {
    for (const order of chunk) {
      const date = (order as OrderRef & { date_livraison: Date }).date_livraison;
      if (resume && date.getTime() === resume.date.getTime()) resume.ids.push(order._id);
      else resume = { date, ids: [order._id] };
    }
  };
  const flush = async (chunk: OrderRef[]) => {
    await processChunk(chunk);
    remember(chunk);
  };

  try {
    while (report.orders_found < limit && !signal?.aborted) {
      const exhausted = await withRetry("Reading delivered orders", async () => {
        const cursor = db.collection(names.orders).find(resumeFilter(), {
          projection: { _id: 1, numero_commande: 1, date_livraison: 1 },
          sort: { date_livraison: 1 },
          batchSize,
        });
        try {
          let chunk: OrderRef[] = [];
          for await (const order of cursor) {
            chunk.push(order as unknown as OrderRef);
            if (chunk.length >= Math.min(batchSize, limit - report.orders_found)) {
              await flush(chunk);
              chunk = [];
              if (report.orders_found >= limit || signal?.aborted) return false;
            }
          }
          if (chunk.length > 0) await flush(chunk);
          return true;
        } finally {
          await cursor.close().catch(() => {});
        }
      });
      if (exhausted) break;
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
  return { report, total, interrupted: signal?.aborted === true };
}
