/**
 * Writing a simulated dataset: unordered bulk inserts of the generator's batches with a few in
 * flight at once, the source indexes the archiver's queries rely on, order numbering that
 * continues after the highest number present, and emptying the simulated collections.
 *
 * @module
 */

import type { Db } from "mongodb";
import type { CollectionNames } from "../../core/archive/collections.ts";
import { PartialFailureError } from "../../core/runtime/errors.ts";
import { ORDER_NUMBER_PREFIX, orderSequence } from "../../core/archive/model.ts";
import { describeError } from "../../core/mongo/errors.ts";
import type { DatasetBatch, DocumentKind } from "./generator.ts";

/** The collections a simulation writes, by document kind. */
export type SimulatedCollections = Pick<CollectionNames, DocumentKind>;

/** The kinds of documents, in the order the generator yields them. */
export const DOCUMENT_KINDS: readonly DocumentKind[] = [
  "clients",
  "couriers",
  "restaurants",
  "menu",
  "orders",
];

/**
 * Creates the indexes the archiver's queries rely on: a unique index on the order number (which
 * also makes appending safe) and one on status with delivery date (the delivered-order scan).
 * Existing identical indexes are kept.
 *
 * @param db The database.
 * @param names The collection names.
 */
export async function ensureSourceIndexes(db: Db, names: Pick<CollectionNames, "orders">) {
  const orders = db.collection(names.orders);
  await orders.createIndex({ numero_commande: 1 }, { unique: true });
  await orders.createIndex({ status: 1, date_livraison: 1 });
}

/**
 * The highest order sequence number present, so new orders continue after it. Numbers longer
 * than six digits sort before shorter ones as text, hence the length in the sort.
 *
 * @param db The database.
 * @param names The collection names.
 * @returns The highest sequence number of a `CMD-<digits>` order, or 0 when there is none.
 */
export async function highestOrderSequence(
  db: Db,
  names: Pick<CollectionNames, "orders">,
): Promise<number> {
  const [top] = await db.collection(names.orders).aggregate<{ numero_commande: string }>([
    { $match: { numero_commande: { $regex: `^${ORDER_NUMBER_PREFIX}[0-9]+$` } } },
    {
      $project: {
        _id: 0,
        numero_commande: 1,
        length: { $strLenCP: "$numero_commande" },
      },
    },
    { $sort: { length: -1, numero_commande: -1 } },
    { $limit: 1 },
  ]).toArray();
  return top ? orderSequence(top.numero_commande) ?? 0 : 0;
}

/**
 * The collections `--drop` empties, orders first, then the archive when asked.
 *
 * @param names The collection names.
 * @param options Whether the archive is included.
 * @returns Collection names.
 */
export function simulatedCollectionNames(
  names: CollectionNames,
  options: { archive: boolean },
): string[] {
  const targets = [names.orders, names.clients, names.couriers, names.restaurants, names.menu];
  if (options.archive) targets.push(names.archive);
  return targets;
}

/**
 * Drops the simulated collections (and the archive only when asked), ignoring those that do not
 * exist.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Whether to drop the archive too.
 * @returns The names of the collections emptied.
 */
export async function emptyCollections(
  db: Db,
  names: CollectionNames,
  options: { archive: boolean },
): Promise<string[]> {
  const targets = simulatedCollectionNames(names, options);
  for (const name of targets) {
    try {
      await db.collection(name).drop();
    } catch (error) {
      // NamespaceNotFound: nothing to empty.
      if ((error as { code?: unknown }).code !== 26) throw error;
    }
  }
  return targets;
}

/** How batches are written. */
export interface WriteOptions {
  /** Inserts in flight at once. @default 4 */
  concurrency?: number;
  /** Stops taking new batches when aborted; the inserts in flight finish first. */
  signal?: AbortSignal;
  /** Called after each batch is written, with the documents actually inserted. */
  onWritten?: (batch: DatasetBatch, inserted: number) => void;
}

/** What a write did. */
export interface WriteResult {
  /** Documents inserted per kind. */
  inserted: Record<DocumentKind, number>;
  /** Documents the server refused (for example a duplicate order number). */
  failed: number;
}

/**
 * Inserts the batches with unordered bulk inserts, a few in flight at once, taking the next batch
 * from the generator only when there is room: memory holds at most `concurrency + 1` batches.
 *
 * @param db The database.
 * @param names The collection of each kind of document.
 * @param batches The generator's batches.
 * @param options Concurrency, abort signal and a progress callback.
 * @returns How many documents of each kind were inserted.
 * @throws {PartialFailureError} When the server refused some documents (exit 1).
 * @throws The signal's reason when aborted, after the inserts in flight finished.
 */
export async function writeDataset(
  db: Db,
  names: SimulatedCollections,
  batches: Iterable<DatasetBatch>,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const result: WriteResult = {
    inserted: { clients: 0, couriers: 0, restaurants: 0, menu: 0, orders: 0 },
    failed: 0,
  };
  let firstError: unknown;
  const inFlight = new Set<Promise<void>>();
  const write = async (batch: DatasetBatch) => {
    let inserted = batch.documents.length;
    try {
      await db.collection(names[batch.kind]).insertMany(batch.documents, { ordered: false });
    } catch (error) {
      const counted = error as { insertedCount?: unknown; result?: { insertedCount?: unknown } };
      const done = counted.insertedCount ?? counted.result?.insertedCount;
      if (typeof done !== "number") throw error;
      inserted = done;
      result.failed += batch.documents.length - done;
      firstError ??= error;
    }
    result.inserted[batch.kind] += inserted;
    options.onWritten?.(batch, inserted);
  };
  try {
    for (const batch of batches) {
      if (options.signal?.aborted) break;
      if (batch.documents.length === 0) continue;
      const pending: Promise<void> = write(batch).finally(() => inFlight.delete(pending));
      inFlight.add(pending);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  } catch (error) {
    // Let the other inserts settle before reporting, so none runs on after the command ends.
    await Promise.allSettled(inFlight);
    throw error;
  }
  for (const outcome of await Promise.allSettled(inFlight)) {
    if (outcome.status === "rejected") throw outcome.reason;
  }
  options.signal?.throwIfAborted();
  if (result.failed > 0) {
    throw new PartialFailureError(
      `${result.failed} simulated documents could not be inserted: ${describeError(firstError)}`,
      { cause: firstError },
    );
  }
  return result;
}
