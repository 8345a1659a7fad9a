/**
 * The idempotent archive sink. A unique index on `numero_commande` makes the archive hold at most
 * one document per order; writes are unordered bulk upserts that only insert (`$setOnInsert`), so
 * replaying any order — a restart, a retry, batch and watch at once — is harmless and counted as a
 * duplicate. One failed document never loses the rest of its batch.
 *
 * @module
 */

import type { AnyBulkWriteOperation, Collection, Document, MongoBulkWriteError } from "mongodb";
import type { Logger } from "@logtape/logtape";
import { isTransientCode } from "../mongo/errors.ts";
import { retryTransient } from "../mongo/retry.ts";

/** The name of the archive's unique index. */
export const ARCHIVE_INDEX = "numero_commande_unique";

/**
 * Ensures the unique index on `numero_commande` exists (a no-op when it does).
 *
 * @param archive The archive collection.
 */
export async function ensureArchiveIndex(archive: Collection): Promise<void> {
  await archive.createIndex({ numero_commande: 1 }, { unique: true, name: ARCHIVE_INDEX });
}

/** What one write did. */
export interface SinkResult {
  /** Documents inserted. */
  archived: number;
  /** Documents whose order was already archived. */
  duplicates: number;
  /** Order numbers that could not be written, with the reason. */
  failed: Array<{ numero_commande: string; reason: string }>;
}

/** How a write retries. */
export interface SinkOptions {
  /** Where failures are logged. */
  log: Logger;
  /** Stops retrying when aborted. */
  signal?: AbortSignal;
  /** Gives up retrying a transient failure after this long. @default 30000 */
  retryDeadlineMs?: number;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
}

const DUPLICATE_KEY = 11000;

/**
 * Writes archive documents: unordered upserts keyed by `numero_commande` that only insert.
 * A transient failure of the whole write is retried with backoff (the write is idempotent);
 * documents that fail on their own are retried when transient, else counted and logged.
 *
 * @param archive The archive collection.
 * @param documents Archive documents, each with a `numero_commande`.
 * @param options Logger, abort signal and retry bound.
 * @returns Counts of archived, duplicate and failed documents.
 * @throws When the server stays unreachable past the retry deadline.
 */
export async function writeArchive(
  archive: Collection,
  documents: readonly Document[],
  options: SinkOptions,
): Promise<SinkResult> {
  const result: SinkResult = { archived: 0, duplicates: 0, failed: [] };
  let pending = [...documents];
  for (let round = 0; pending.length > 0; round++) {
    const outcome = await retryTransient("Archive write", () => _bulkUpsert(archive, pending), {
      ...options,
      deadlineMs: options.retryDeadlineMs,
    });
    result.archived += outcome.archived;
    result.duplicates += outcome.duplicates;
    const retryable: Document[] = [];
    for (const { index, error } of outcome.errors) {
      const document = pending[index]!;
      if (error.code === DUPLICATE_KEY && /numero_commande/.test(error.errmsg ?? "")) {
        // Two writers raced on the same new order: the other one archived it.
        result.duplicates++;
      } else if (round < 3 && isTransientCode(error.code)) {
        retryable.push(document);
      } else {
        const reason = `${error.errmsg ?? "write failed"} (code ${error.code})`;
        result.failed.push({ numero_commande: String(document.numero_commande), reason });
        options.log.error(`❌ Error archiving order ${document.numero_commande}: ${reason}`, {
          numero_commande: document.numero_commande,
        });
      }
    }
    pending = retryable;
  }
  return result;
}

interface _BulkOutcome {
  archived: number;
  duplicates: number;
  errors: Array<{ index: number; error: { code?: number; errmsg?: string } }>;
}

async function _bulkUpsert(archive: Collection, documents: Document[]): Promise<_BulkOutcome> {
  const operations: AnyBulkWriteOperation[] = documents.map((document) => ({
    updateOne: {
      filter: { numero_commande: document.numero_commande },
      update: { $setOnInsert: document },
      upsert: true,
    },
  }));
  try {
    const result = await archive.bulkWrite(operations, {
      ordered: false,
      writeConcern: { w: "majority" },
    });
    return { archived: result.upsertedCount, duplicates: result.matchedCount, errors: [] };
  } catch (error) {
    const bulk = error as MongoBulkWriteError;
    const writeErrors = bulk.name === "MongoBulkWriteError" ? bulk.writeErrors : undefined;
    // A failure of the whole command (network, step-down): let the caller retry it all.
    if (!writeErrors || (Array.isArray(writeErrors) && writeErrors.length === 0)) throw error;
    const list = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
    return {
      archived: bulk.result?.upsertedCount ?? 0,
      duplicates: bulk.result?.matchedCount ?? 0,
      errors: list.map((e) => ({ index: e.index, error: { code: e.code, errmsg: e.errmsg } })),
    };
  }
}
