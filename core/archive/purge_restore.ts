/**
 * Undoing a purge: puts purged orders back into the source exactly as they were — the `source`
 * their archive document kept, read with every BSON type as stored and inserted as is — and
 * records on the archive document that they were restored (`restored_at`, `restored_by`, the
 * purge moved into `purge_history`). A restored order is never purged again by a later run: the
 * operator brought it back on purpose.
 *
 * @module
 */

import { type Db, type Document, MongoBulkWriteError } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { SOURCE_FIELD } from "./enrich.ts";
import { orderIdKey } from "./order_id.ts";
import { PURGE_FIELDS } from "./purge.ts";
import { retryTransient } from "../mongo/retry.ts";

/** Which purged orders to restore: by `_id` or number, or every one purged since a time. */
export type RestoreSelection =
  | { ids: unknown[]; numbers: string[] }
  | { purgedSince: Date };

/** What a restore did. */
export interface RestoreCounts {
  /** Purged orders found for the selection. */
  found: number;
  /** Orders put back into the source. */
  restored: number;
  /** Orders already in the source (restored before, or never gone): recorded as restored. */
  alreadyInSource: number;
  /** Ids or numbers named that are not purged orders of the archive. */
  notFound: string[];
}

const _EXACT = { promoteValues: false, promoteLongs: false, promoteBuffers: false } as const;

/**
 * Restores purged orders: one read of their archive documents, one unordered insert of their
 * sources (an order already there is a duplicate key, counted and recorded all the same), one
 * update recording the restore.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options The selection, who restores, logger and time bound.
 * @returns The counts.
 */
export async function restorePurged(
  db: Db,
  names: CollectionNames,
  options: { selection: RestoreSelection; by: string; log: Logger; timeoutMs?: number },
): Promise<RestoreCounts> {
  const archive = db.collection(names.archive);
  const { selection } = options;
  const retrying = { log: options.log };
  const filter: Document = { [PURGE_FIELDS.purgedAt]: { $exists: true } };
  if ("purgedSince" in selection) {
    filter[PURGE_FIELDS.purgedAt] = { $gte: selection.purgedSince };
  } else {
    filter.$or = [
      { order_id: { $in: selection.ids } },
      { numero_commande: { $in: selection.numbers } },
    ];
  }
  const documents = await retryTransient(
    "Reading the purged orders",
    () =>
      archive.find(filter, {
        ..._EXACT,
        projection: { _id: 1, order_id: 1, numero_commande: 1, [SOURCE_FIELD]: 1 },
        maxTimeMS: options.timeoutMs ?? 30_000,
      }).toArray(),
    retrying,
  );
  const counts: RestoreCounts = {
    found: documents.length,
    restored: 0,
    alreadyInSource: 0,
    notFound: [],
  };
  if (!("purgedSince" in selection)) {
    const ids = new Set(documents.map((d) => orderIdKey(d.order_id)));
    const numbers = new Set(documents.map((d) => String(d.numero_commande)));
    counts.notFound = [
      ...selection.ids.filter((id) => !ids.has(orderIdKey(id))).map((id) => String(id)),
      ...selection.numbers.filter((n) => !numbers.has(n)),
    ];
  }
  if (documents.length === 0) return counts;
  const orders = db.collection(names.orders);
  try {
    const result = await orders.insertMany(documents.map((d) => d[SOURCE_FIELD]), {
      ordered: false,
      writeConcern: { w: "majority" },
    });
    counts.restored = result.insertedCount;
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    const other = errors.find((e) => e.code !== 11000);
    if (other) throw error;
    counts.restored = error.result.insertedCount;
    counts.alreadyInSource = errors.length;
  }
  const now = new Date();
  await retryTransient(
    "Recording the restore",
    () =>
      archive.updateMany({ _id: { $in: documents.map((d) => d._id) } }, [
        {
          $set: {
            purge_history: {
              $concatArrays: [{ $ifNull: ["$purge_history", []] }, [{
                purged_at: `$${PURGE_FIELDS.purgedAt}`,
                purged_by: `$${PURGE_FIELDS.purgedBy}`,
                restored_at: now,
                restored_by: options.by,
              }]],
            },
            [PURGE_FIELDS.restoredAt]: now,
            restored_by: options.by,
          },
        },
        { $unset: [PURGE_FIELDS.purgedAt, PURGE_FIELDS.purgedBy] },
      ], { writeConcern: { w: "majority" } }),
    retrying,
  );
  return counts;
}
