/**
 * The idempotent archive sink. A unique index on `order_id` makes the archive hold at most one
 * document per order; writes are unordered bulk upserts on `order_id` that only insert
 * (`$setOnInsert`), so replaying any order — a restart, a retry, batch and watch at once — is
 * harmless and counted as a duplicate. A document whose number another order holds in the archive
 * (the unique `numero_commande` index refuses it) is returned as a conflict. One failed document
 * never loses the rest of its batch.
 *
 * @module
 */

import {
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  type Collection,
  type Document,
  MongoBulkWriteError,
} from "mongodb";
import type { Logger } from "@logtape/logtape";
import { isTransientCode, writeConcernErrorOf } from "../mongo/errors.ts";
import { backoffDelay, sleep } from "../runtime/retry.ts";
import { retryTransient } from "../mongo/retry.ts";

/** What one write did. */
export interface SinkResult {
  /** Documents inserted. */
  archived: number;
  /** Documents whose order was already archived. */
  duplicates: number;
  /** Documents that could not be written, with the server's reason. */
  failed: Array<{ document: Document; reason: string }>;
  /** Documents refused because their number is archived for another order. */
  conflicts: Document[];
}

/** How a write retries. */
export interface SinkOptions {
  /** Where failures are logged. */
  log: Logger;
  /** Stops retrying when aborted. */
  signal?: AbortSignal;
  /** Gives up retrying a transient failure of the whole write after this long. @default 30000 */
  retryDeadlineMs?: number;
  /** How long the majority may take to confirm a write, in ms. @default 30000 */
  writeTimeoutMs?: number;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
}

const DUPLICATE_KEY = 11000;
// Per-document transient failures (a rare write conflict) are retried this many times, with
// backoff, before the document is reported failed (and quarantined by the caller).
const _DOCUMENT_ROUNDS = 3;

/**
 * Writes archive documents: unordered upserts keyed by `order_id` that only insert.
 * A transient failure of the whole write — the network, an election, or a write the majority did
 * not confirm in time — is retried with backoff (the write is idempotent). Documents that fail
 * on their own are retried with backoff when transient, else returned as failed.
 *
 * Each document must carry the same `archived_at` (one batch, one time): a retry that finds a
 * document it wrote itself during an unconfirmed attempt counts it as archived, not duplicate.
 *
 * @param archive The archive collection.
 * @param documents Archive documents, each with an `order_id`, a `numero_commande` and
 *   `archived_at`.
 * @param options Logger, abort signal, retry bound, write timeout.
 * @returns Counts of archived and duplicate documents, the conflicting and the failed ones.
 * @throws When the server stays unreachable past the retry deadline.
 */
export async function writeArchive(
  archive: Collection,
  documents: readonly Document[],
  options: SinkOptions,
): Promise<SinkResult> {
  const result: SinkResult = { archived: 0, duplicates: 0, failed: [], conflicts: [] };
  let pending = [...documents];
  for (let round = 1; pending.length > 0; round++) {
    let unconfirmed = false;
    const outcome = await retryTransient(
      "Archive write",
      () =>
        _bulkUpsert(archive, pending, options.writeTimeoutMs ?? 30_000).catch((error) => {
          if (writeConcernErrorOf(error)) unconfirmed = true;
          throw error;
        }),
      { ...options, deadlineMs: options.retryDeadlineMs },
    );
    let ours = 0;
    if (unconfirmed && outcome.matched.length > 0) {
      // An earlier, unconfirmed attempt may have inserted some of them: those are this write's.
      ours = await archive.countDocuments({
        order_id: { $in: outcome.matched.map((d) => d.order_id) },
        archived_at: outcome.matched[0]!.archived_at,
        archived_by: outcome.matched[0]!.archived_by,
      });
    }
    result.archived += outcome.upserted + ours;
    result.duplicates += outcome.matched.length - ours;
    const retryable: Document[] = [];
    for (const { document, error } of outcome.errors) {
      if (error.code === DUPLICATE_KEY && /order_id/.test(error.errmsg ?? "")) {
        // Two writers raced on the same new order: the other one archived it.
        result.duplicates++;
      } else if (error.code === DUPLICATE_KEY && /numero_commande/.test(error.errmsg ?? "")) {
        // Another order holds the number in the archive (archived meanwhile, or in this batch).
        result.conflicts.push(document);
      } else if (round < _DOCUMENT_ROUNDS && isTransientCode(error.code)) {
        retryable.push(document);
      } else {
        const reason = `${error.errmsg ?? "write failed"} (code ${error.code})`;
        result.failed.push({ document, reason });
      }
    }
    pending = retryable;
    if (pending.length > 0) await sleep(backoffDelay(round, { baseDelayMs: 200 }), options.signal);
  }
  return result;
}

interface _BulkOutcome {
  upserted: number;
  matched: Document[];
  errors: Array<{ document: Document; error: { code?: number; errmsg?: string } }>;
}

async function _bulkUpsert(
  archive: Collection,
  documents: Document[],
  writeTimeoutMs: number,
): Promise<_BulkOutcome> {
  const operations: AnyBulkWriteOperation[] = documents.map((document) => ({
    updateOne: {
      filter: { order_id: document.order_id },
      update: { $setOnInsert: document },
      upsert: true,
    },
  }));
  let result: BulkWriteResult;
  let writeErrors: Array<{ index: number; code?: number; errmsg?: string }> = [];
  try {
    result = await archive.bulkWrite(operations, {
      ordered: false,
      writeConcern: { w: "majority", wtimeoutMS: writeTimeoutMs },
    });
  } catch (error) {
    // A failure of the whole command (network, step-down), or writes the majority did not
    // confirm, even beside per-document errors: let the caller retry it all.
    if (!(error instanceof MongoBulkWriteError) || writeConcernErrorOf(error)) throw error;
    const list = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    if (list.length === 0) throw error;
    result = error.result;
    writeErrors = list.map((e) => ({ index: e.index, code: e.code, errmsg: e.errmsg }));
  }
  const upsertedAt = new Set(Object.keys(result.upsertedIds ?? {}).map(Number));
  const failedAt = new Set(writeErrors.map((e) => e.index));
  return {
    upserted: result.upsertedCount,
    matched: documents.filter((_, i) => !upsertedAt.has(i) && !failedAt.has(i)),
    errors: writeErrors.map((e) => ({ document: documents[e.index]!, error: e })),
  };
}
