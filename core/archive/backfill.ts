/**
 * The backfill pass: every delivered order that is not yet archived — in a delivery-date window
 * only when the operator asks for one — streamed with a cursor in `_id` order and archived batch
 * by batch through the shared core, which also quarantines what it cannot archive. `archiver
 * batch` is this pass with a report; `archiver watch` runs it to cover the gap before it
 * streams. No date the application writes decides what the pass covers.
 *
 * @module
 */

import { type Document, ObjectId } from "mongodb";
import { type ArchiveOptions, archiveOrders, type OrderRef } from "./archiver.ts";
import { type BatchReport, emptyReport } from "./report.ts";
import { addOutcomeCounts, emptyOutcomeCounts, orderFigures } from "../runtime/outcome.ts";
import { orderFilter } from "./enrich.ts";
import { describeError, isTransientError } from "../mongo/errors.ts";
import { retryTransient } from "../mongo/retry.ts";
import { backoffDelay, sleep } from "../runtime/retry.ts";

/** What a backfill selects and how it reports progress. */
export interface BackfillOptions extends Omit<ArchiveOptions, "reportedIncomplete"> {
  /** The delivered status value. */
  deliveredStatus: string;
  /**
   * Gives up when transient failures keep the pass from progressing for this long, in ms (the
   * clock restarts at each batch archived). @default 30000
   */
  retryDeadlineMs?: number;
  /** Delivered at or after. */
  from?: Date;
  /** Delivered before. */
  to?: Date;
  /** Orders per batch. */
  batchSize: number;
  /**
   * How long the batch in flight may take to finish once the signal is aborted, in ms: it is
   * then counted, and the pass stops between batches; past it, the batch is abandoned (what it
   * wrote is found archived by the next run). @default 1000
   */
  stopGraceMs?: number;
  /** Stop once this many not-yet-archived orders were found. @default Infinity */
  limit?: number;
  /** Called with the total before streaming. */
  onStart?: (total: number) => void | Promise<void>;
  /**
   * Called after each batch with the orders examined so far and the running figures (the same
   * object each time: a caller keeps what was counted when the pass then fails).
   */
  onProgress?: (processed: number, total: number, report: Readonly<BatchReport>) => void;
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
 * Archives every delivered, not-yet-archived order (in the window, when one is given). A
 * transient failure reopens the cursor after the last order read, with backoff; the pass gives
 * up only when it made no progress for `retryDeadlineMs`.
 *
 * @param options Database, names, window, batch size and callbacks.
 * @returns The figures and whether it was interrupted.
 * @throws The last transient error once no progress was made for the deadline; deployment and
 *   internal errors at once.
 */
export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const { db, names, log, signal, batchSize } = options;
  const limit = options.limit ?? Infinity;
  const deadlineMs = options.retryDeadlineMs ?? 30_000;
  const report = emptyReport();
  const counts = emptyOutcomeCounts();
  const filter = orderFilter({
    status: options.deliveredStatus,
    from: options.from,
    to: options.to,
  });
  const total = await retryTransient(
    "Counting delivered orders",
    () => db.collection(names.orders).countDocuments(filter),
    { log, signal, onTransientError: options.onTransientError },
  );
  report.orders_delivered = total;
  await options.onStart?.(total);

  let processed = 0;
  let stillFailing = 0;
  let last: { id: unknown } | undefined;
  let progressAt = Date.now();
  const flush = async (chunk: OrderRef[]) => {
    // The batch in flight finishes (and is counted) unless it outlasts the grace.
    using grace = _graceSignal(signal, options.stopGraceMs ?? 1_000);
    const outcome = await archiveOrders(chunk, { ...options, signal: grace.signal });
    // An order archived by another writer between the cursor's read and the merge was not
    // found by this run: neither found nor duplicate.
    report.orders_found += chunk.length - outcome.alreadyArchived;
    Object.assign(
      report,
      orderFigures(addOutcomeCounts(counts, { ...outcome, alreadyArchived: 0 })),
    );
    // Quarantined before this run and still there: apart from the first-seen counts above.
    const still = outcome.stillQuarantined;
    report.orders_still_quarantined += still.incomplete + still.invalid + still.conflict +
      still.error;
    report.orders_failed = counts.invalid + counts.conflicts + counts.errors;
    stillFailing += still.invalid + still.conflict + still.error;
    report.orders_failed += stillFailing;
    if (outcome.documents.length > 0) options.onDocuments?.(outcome.documents);
    processed += chunk.length;
    report.orders_examined = processed;
    last = { id: chunk.at(-1)!._id };
    progressAt = Date.now();
    options.onProgress?.(processed, total, report);
  };
  // Read in _id order (always present, unique, indexed), so a reopened cursor starts right after
  // the last order handled instead of re-reading the pass.
  const pass = async (): Promise<void> => {
    const cursor = db.collection(names.orders).find(_after(filter, last), {
      projection: { _id: 1, numero_commande: 1 },
      sort: { _id: 1 },
      // Ids and numbers only (about 50 bytes an order): reading several batches ahead costs a
      // fraction of a getMore per batch, and a few hundred kilobytes.
      batchSize: Math.min(batchSize * _READ_AHEAD, 100_000),
    });
    try {
      let chunk: OrderRef[] = [];
      // What the cursor holds is taken a batch at a time, not one awaited document at a time:
      // the driver's per-document iteration (a promise and its timeout checks each) was a
      // visible part of a batch's CPU.
      while (await cursor.hasNext()) {
        const size = Math.min(batchSize, limit - report.orders_found);
        for (const order of cursor.readBufferedDocuments(size - chunk.length)) chunk.push(order);
        if (chunk.length >= size) {
          await flush(chunk);
          chunk = [];
          if (report.orders_found >= limit || signal?.aborted) return;
        }
      }
      if (chunk.length > 0) await flush(chunk);
    } finally {
      await cursor.close().catch(() => {});
    }
  };

  try {
    for (let attempt = 1; !signal?.aborted; attempt++) {
      try {
        await pass();
        break;
      } catch (error) {
        if (signal?.aborted || !isTransientError(error)) throw error;
        const delayMs = backoffDelay(attempt, { baseDelayMs: 200, maxDelayMs: 5_000 });
        if (Date.now() - progressAt + delayMs > deadlineMs) throw error;
        options.onTransientError?.(error);
        log.warn(
          `Reading delivered orders failed (attempt ${attempt}), retrying: ${describeError(error)}`,
        );
        await sleep(delayMs, signal);
      }
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  }
  return { report, total, interrupted: signal?.aborted === true };
}

/** A signal aborted `graceMs` after `outer` is; disposing of it stops the timer. */
function _graceSignal(
  outer: AbortSignal | undefined,
  graceMs: number,
): Disposable & { signal?: AbortSignal } {
  if (!outer) return { [Symbol.dispose]() {} };
  const inner = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    timer = setTimeout(() => inner.abort(outer.reason), graceMs);
  };
  if (outer.aborted) onAbort();
  else outer.addEventListener("abort", onAbort, { once: true });
  return {
    signal: inner.signal,
    [Symbol.dispose]() {
      outer.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    },
  };
}

// Batches of order references the cursor fetches at once.
const _READ_AHEAD = 4;

function _after(filter: Document, last: { id: unknown } | undefined): Document {
  if (!last) return filter;
  // `$gt` on _id brackets by type; ObjectIds (the platform's ids) sort last among the usual id
  // types, so after one nothing of another type is left. After an id of another type, compare
  // in BSON order across types with $expr, so no order of a later type is skipped.
  const after = last.id instanceof ObjectId
    ? { _id: { $gt: last.id } }
    : { $expr: { $gt: ["$_id", last.id] } };
  return { $and: [filter, after] };
}
