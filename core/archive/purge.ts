/**
 * The purge: deletes from the orders collection the orders archived before a bound, oldest
 * first, chunk by chunk, each only when it still equals the copy its archive document kept (the
 * check is in the delete's own filter, `purge_query.ts`). Every step of a chunk is recorded on
 * the archive documents, so a crash leaves nothing half-done beyond the chunk:
 *
 * 1. the chunk query (one aggregation on the archive): which orders are purgeable, changed,
 *    held, excluded, gone, or archived without proof;
 * 2. `purge_pending: { run, at }` on the purgeable ones' archive documents (one `updateMany`,
 *    majority) — written before anything is deleted, so another consumer of the orders' change
 *    stream that sees a delete can tell a purge (the archive says pending or purged) from a
 *    business delete;
 * 3. the deletes (one unordered bulk of `deleteOne`, majority, with a `comment` naming the run);
 * 4. which of them are gone (one `find` on `_id`): those are confirmed `purged_at`, `purged_by`
 *    (one `updateMany` on the documents still pending for this run); one changed in between is
 *    left, counted `changed`, and its pending mark removed;
 * 5. an order deleted whose archive document vanished before the confirmation (removed by
 *    someone else) is put back into the source from the copy the chunk read: never lost.
 *
 * A run first settles what an interrupted run left pending: an order gone is confirmed purged,
 * one still there loses its mark. Five round trips a chunk when nothing goes wrong.
 *
 * @module
 */

import { type AnyBulkWriteOperation, type Db, type Document, MongoServerError } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { enrichmentPipeline, SOURCE_FIELD } from "./enrich.ts";
import { describeOrderId, orderIdKey } from "./order_id.ts";
import {
  proofDelete,
  PURGE_INDEX,
  PURGE_STATES,
  purgeChunkPipeline,
  type PurgeCriteria,
  type PurgeCursor,
  type PurgeState,
} from "./purge_query.ts";
import { isTransientError } from "../mongo/errors.ts";
import { retryTransient } from "../mongo/retry.ts";
import { BSON } from "mongodb";

/** How the archive documents record a purge. */
export const PURGE_FIELDS = {
  /** Set before the delete: `{ run, at }`. */
  pending: "purge_pending",
  /** When the order was purged from the source (confirmed). */
  purgedAt: "purged_at",
  /** Which run purged it. */
  purgedBy: "purged_by",
  /** When the operator restored it (`archiver purge restore`). */
  restoredAt: "restored_at",
  /** Earlier versions of the order's archive document, oldest first (`--rearchive`). */
  versions: "versions",
} as const;

// The archived copies are read with their BSON types kept (an int32, a double, a long stay so):
// the delete compares them, the restore writes them back.
const _EXACT = { promoteValues: false, promoteLongs: false, promoteBuffers: false } as const;

/** The figures of one month of delivery (`YYYY-MM`, or `unknown`). */
export interface MonthFigures {
  /** Orders purged (or, in a dry run, that would be). */
  orders: number;
  /** Their size in the source, in bytes (BSON). */
  bytes: number;
}

/** What a purge did (or, in a dry run, would do). */
export interface PurgeCounts {
  /** Archive documents looked at. */
  examined: number;
  /** Orders deleted from the source with their proof (or that would be). */
  purged: number;
  /** Their size in the source, in bytes. */
  bytes: number;
  /** Orders left because they differ from their archived copy (at the query or at the delete). */
  changed: number;
  /** Of those, the ones that changed between the chunk query and the delete. */
  changedAtDelete: number;
  /** Archive documents without proof (archived by an older version): never purged. */
  noProof: number;
  /** Orders on legal hold. */
  held: number;
  /** Orders matched by the exclusions. */
  excluded: number;
  /** Archive documents whose order is no longer in the source (not purged by this tool). */
  gone: number;
  /** Changed orders (or without proof) archived again first (`--rearchive`). */
  rearchived: number;
  /** Orders deleted whose archive document vanished before the confirmation: put back. */
  putBack: number;
  /** Pending marks of an interrupted run settled at the start (confirmed or cleared). */
  reconciled: number;
  /** Chunks done. */
  chunks: number;
  /** Round trips to the server. */
  roundTrips: number;
  /** Orders purged and bytes, per month of delivery. */
  months: Record<string, MonthFigures>;
}

/**
 * Zero counts.
 *
 * @returns Counts at 0.
 */
export function emptyPurgeCounts(): PurgeCounts {
  return {
    examined: 0,
    purged: 0,
    bytes: 0,
    changed: 0,
    changedAtDelete: 0,
    noProof: 0,
    held: 0,
    excluded: 0,
    gone: 0,
    rearchived: 0,
    putBack: 0,
    reconciled: 0,
    chunks: 0,
    roundTrips: 0,
    months: {},
  };
}

/** What happens between chunks: the throttle's say. */
export type ChunkGate = (counts: Readonly<PurgeCounts>) => Promise<"go" | "stop">;

/** What a purge needs. */
export interface PurgeOptions {
  /** The database. */
  db: Db;
  /** Collection names. */
  names: CollectionNames;
  /** Where retries and problems are logged. */
  log: Logger;
  /** Which archive documents, legal hold and exclusions. */
  criteria: PurgeCriteria;
  /** This run's id, recorded in the marks. */
  runId: string;
  /** Orders per chunk. @default 1000 */
  chunkSize?: number;
  /** Only count: nothing is marked, deleted or archived. @default false */
  dryRun?: boolean;
  /** Archive changed orders (and those without proof) again first, then purge them. */
  rearchive?: boolean;
  /** Bound of one server wait (majority confirmation included), in ms. @default 30000 */
  timeoutMs?: number;
  /** Stops between chunks when aborted. */
  signal?: AbortSignal;
  /** Called before each chunk's deletes: waits (lag, rate, window) or says stop. */
  gate?: ChunkGate;
  /** Called after each chunk with the running counts. */
  onChunk?: (counts: Readonly<PurgeCounts>) => void;
  /** A test's hook between the pending marks and the deletes. */
  beforeDelete?: (orderIds: unknown[]) => Promise<void>;
  /** Orders at most (tests and `--limit`). @default Infinity */
  limit?: number;
}

/**
 * Purges, chunk by chunk, until no archive document in scope is left, the gate says stop, or
 * the signal aborts (always at a chunk's end).
 *
 * @param options Database, names, criteria, run id and bounds.
 * @returns What it did.
 * @throws Driver errors past their retry deadline; the signal's reason when aborted.
 */
export async function purgeArchived(options: PurgeOptions): Promise<PurgeCounts> {
  const counts = emptyPurgeCounts();
  const { db, names } = options;
  const retrying = { log: options.log, signal: options.signal };
  if (!options.dryRun) {
    await retryTransient(
      "Creating the purge index",
      () => db.collection(names.archive).createIndex(PURGE_INDEX.key, { name: PURGE_INDEX.name }),
      retrying,
    );
    counts.roundTrips++;
    await reconcilePending(db, names, {
      ...options,
      counts,
      legalHoldField: options.criteria.legalHoldField,
    });
  }
  let after: PurgeCursor | undefined;
  const size = options.chunkSize ?? 1000;
  const limit = options.limit ?? Infinity;
  while (counts.examined < limit) {
    options.signal?.throwIfAborted();
    const chunk = await retryTransient(
      "Reading the purge chunk",
      () =>
        db.collection(names.archive).aggregate(
          purgeChunkPipeline(options.criteria, names, {
            size: Math.min(size, limit - counts.examined),
            after,
          }),
          { ..._EXACT, batchSize: size + 1, maxTimeMS: options.timeoutMs ?? 30_000 },
        ).toArray(),
      retrying,
    );
    counts.roundTrips++;
    if (chunk.length === 0) break;
    const last = chunk[chunk.length - 1]!;
    after = { archived_at: _date(last.archived_at), _id: last._id };
    // A dry run never waits: its figures are the real run's, without the deletes.
    if (options.gate && !options.dryRun && await options.gate(counts) === "stop") break;
    await _purgeChunk(chunk, options, counts);
    counts.chunks++;
    options.onChunk?.(counts);
  }
  return counts;
}

async function _purgeChunk(
  chunk: Document[],
  options: PurgeOptions,
  counts: PurgeCounts,
): Promise<void> {
  const purgeable: Document[] = [];
  const redo: Document[] = [];
  for (const document of chunk) {
    counts.examined++;
    const state = String(document.state) as PurgeState;
    if (!PURGE_STATES.includes(state)) continue;
    if (state === "purgeable") purgeable.push(document);
    else if ((state === "changed" || state === "no_proof") && options.rearchive) {
      redo.push(document);
    } else _countState(counts, state);
  }
  if (redo.length > 0) {
    if (options.dryRun) counts.rearchived += redo.length;
    else purgeable.push(...await _rearchive(redo, options, counts));
  }
  if (purgeable.length === 0) return;
  if (options.dryRun) {
    for (const document of purgeable) _countPurged(counts, document);
    return;
  }
  await _deleteWithProof(purgeable, options, counts);
}

async function _deleteWithProof(
  purgeable: Document[],
  options: PurgeOptions,
  counts: PurgeCounts,
): Promise<void> {
  const { db, names } = options;
  const archive = db.collection(names.archive);
  const orders = db.collection(names.orders);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const majority = { writeConcern: { w: "majority" as const, wtimeoutMS: timeoutMs } };
  const retrying = { log: options.log, signal: options.signal };
  const archiveIds = purgeable.map((d) => d._id);
  const orderIds = purgeable.map((d) => d.order_id);
  await retryTransient(
    "Marking the chunk pending",
    () =>
      archive.updateMany(
        { _id: { $in: archiveIds }, [PURGE_FIELDS.purgedAt]: { $exists: false } },
        { $set: { [PURGE_FIELDS.pending]: { run: options.runId, at: new Date() } } },
        majority,
      ),
    retrying,
  );
  counts.roundTrips++;
  await options.beforeDelete?.(orderIds);
  const operations: AnyBulkWriteOperation[] = purgeable.map((d) =>
    proofDelete(d.order_id, d[SOURCE_FIELD], options.criteria)
  );
  // Idempotent: a delete already applied matches nothing the second time. What was deleted is
  // read from the source afterwards, never from the reply (a lost reply says nothing).
  try {
    await retryTransient(
      "Deleting the chunk",
      () =>
        orders.bulkWrite(operations, {
          ordered: false,
          comment: `archiver purge ${options.runId}`,
          ...majority,
        }),
      retrying,
    );
  } catch (error) {
    // Refused (a privilege, a validator): nothing of the chunk was deleted that the next run
    // would not settle; the marks go now so the archive says nothing false meanwhile.
    if (!isTransientError(error)) {
      await archive.updateMany(
        { _id: { $in: archiveIds }, [`${PURGE_FIELDS.pending}.run`]: options.runId },
        { $unset: { [PURGE_FIELDS.pending]: "" } },
      ).catch(() => {});
    }
    throw error;
  }
  counts.roundTrips++;
  const remaining = new Set(
    (await retryTransient(
      "Reading what the chunk deleted",
      () =>
        orders.find({ _id: { $in: orderIds } }, {
          projection: { _id: 1 },
          batchSize: orderIds.length + 1,
          maxTimeMS: timeoutMs,
        }).toArray(),
      retrying,
    )).map((d) => orderIdKey(d._id)),
  );
  counts.roundTrips++;
  const deleted = purgeable.filter((d) => !remaining.has(orderIdKey(d.order_id)));
  const left = purgeable.filter((d) => remaining.has(orderIdKey(d.order_id)));
  if (deleted.length > 0) {
    const confirmed = await retryTransient(
      "Recording the purged orders",
      () =>
        archive.updateMany(
          {
            _id: { $in: deleted.map((d) => d._id) },
            [`${PURGE_FIELDS.pending}.run`]: options.runId,
          },
          {
            // Not on hold (the delete checked it): the equality the archive's TTL filter needs.
            $set: {
              [PURGE_FIELDS.purgedAt]: new Date(),
              [PURGE_FIELDS.purgedBy]: options.runId,
              [options.criteria.legalHoldField]: false,
            },
            $unset: { [PURGE_FIELDS.pending]: "" },
          },
          majority,
        ),
      retrying,
    );
    counts.roundTrips++;
    let lost: Document[] = [];
    if (confirmed.matchedCount < deleted.length) {
      const recorded = new Set(
        (await archive.find({
          _id: { $in: deleted.map((d) => d._id) },
          [PURGE_FIELDS.purgedBy]: options.runId,
        }, { projection: { _id: 1 } }).toArray()).map((d) => orderIdKey(d._id)),
      );
      counts.roundTrips++;
      lost = deleted.filter((d) => !recorded.has(orderIdKey(d._id)));
    }
    if (lost.length > 0) await _putBack(lost, options, counts);
    const lostIds = new Set(lost.map((d) => orderIdKey(d._id)));
    for (const document of deleted) {
      if (!lostIds.has(orderIdKey(document._id))) _countPurged(counts, document);
    }
  }
  if (left.length > 0) {
    counts.changed += left.length;
    counts.changedAtDelete += left.length;
    await retryTransient(
      "Clearing the pending marks of changed orders",
      () =>
        archive.updateMany(
          { _id: { $in: left.map((d) => d._id) }, [`${PURGE_FIELDS.pending}.run`]: options.runId },
          { $unset: { [PURGE_FIELDS.pending]: "" } },
          majority,
        ),
      retrying,
    );
    counts.roundTrips++;
  }
}

// Orders deleted whose archive document is gone: back into the source, as they were.
async function _putBack(lost: Document[], options: PurgeOptions, counts: PurgeCounts) {
  const orders = options.db.collection(options.names.orders);
  for (const document of lost) {
    try {
      await retryTransient(
        "Putting back an order whose archive vanished",
        () => orders.insertOne(document[SOURCE_FIELD], { writeConcern: { w: "majority" } }),
        { log: options.log, signal: options.signal },
      );
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
    }
    counts.roundTrips++;
    counts.putBack++;
    options.log.error(
      `❌ The archive document of order ${
        describeOrderId(document.order_id)
      } vanished during the purge: the order is put back into the source`,
    );
  }
}

/**
 * Settles the pending marks an interrupted run left: the order gone from the source is recorded
 * purged (the delete happened, its proof in its filter), the order still there loses its mark.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Logger, run id, counts to add to.
 * @returns How many marks were settled.
 */
export async function reconcilePending(
  db: Db,
  names: CollectionNames,
  options: Pick<PurgeOptions, "log" | "signal" | "runId" | "timeoutMs"> & {
    counts?: PurgeCounts;
    /** The legal hold field, recorded `false` on the orders confirmed purged. @default "legal_hold" */
    legalHoldField?: string;
  },
): Promise<number> {
  const archive = db.collection(names.archive);
  const retrying = { log: options.log, signal: options.signal };
  const pending = await retryTransient(
    "Reading pending purge marks",
    () =>
      archive.find({ [PURGE_FIELDS.pending]: { $exists: true } }, {
        projection: { _id: 1, order_id: 1, [PURGE_FIELDS.pending]: 1 },
      }).toArray(),
    retrying,
  );
  if (options.counts) options.counts.roundTrips++;
  if (pending.length === 0) return 0;
  const present = new Set(
    (await db.collection(names.orders).find({ _id: { $in: pending.map((d) => d.order_id) } }, {
      projection: { _id: 1 },
    }).toArray()).map((d) => orderIdKey(d._id)),
  );
  const gone = pending.filter((d) => !present.has(orderIdKey(d.order_id)));
  const still = pending.filter((d) => present.has(orderIdKey(d.order_id)));
  const majority = { writeConcern: { w: "majority" as const } };
  for (const document of gone) {
    await archive.updateOne({ _id: document._id, [PURGE_FIELDS.pending]: { $exists: true } }, {
      $set: {
        [PURGE_FIELDS.purgedAt]: new Date(),
        [PURGE_FIELDS.purgedBy]: String(document[PURGE_FIELDS.pending]?.run ?? options.runId),
        [options.legalHoldField ?? "legal_hold"]: false,
      },
      $unset: { [PURGE_FIELDS.pending]: "" },
    }, majority);
  }
  if (still.length > 0) {
    await archive.updateMany({ _id: { $in: still.map((d) => d._id) } }, {
      $unset: { [PURGE_FIELDS.pending]: "" },
    }, majority);
  }
  options.log.warn(
    `⚠️ Settled ${pending.length} purge marks an interrupted run left: ${gone.length} purged, ${still.length} still in the source`,
  );
  if (options.counts) options.counts.reconciled += pending.length;
  return pending.length;
}

// Archives the new version of changed orders (or of those archived without proof), keeping the
// earlier document in `versions`; returns them as purgeable with their new source. An order whose
// new version is incomplete or invalid stays, counted changed.
async function _rearchive(
  documents: Document[],
  options: PurgeOptions,
  counts: PurgeCounts,
): Promise<Document[]> {
  const { db, names } = options;
  const archive = db.collection(names.archive);
  const enriched = new Map(
    (await db.collection(names.orders).aggregate(
      enrichmentPipeline({ ids: documents.map((d) => d.order_id) }, names),
      { ..._EXACT, maxTimeMS: options.timeoutMs ?? 30_000 },
    ).toArray()).map((d) => [orderIdKey(d.order_id), d]),
  );
  counts.roundTrips++;
  const redone: Document[] = [];
  for (const document of documents) {
    const fresh = enriched.get(orderIdKey(document.order_id));
    const state = document.state as PurgeState;
    if (!fresh || (fresh.invalid as unknown[]).length > 0 || fresh.complete !== true) {
      _countState(counts, state);
      continue;
    }
    const old = await archive.findOne({ _id: document._id }, _EXACT);
    counts.roundTrips++;
    if (!old) {
      _countState(counts, state);
      continue;
    }
    const { _id, [PURGE_FIELDS.versions]: versions, ...earlier } = old;
    const { invalid: _, ...current } = fresh;
    const replaced = await archive.replaceOne({ _id, archived_at: old.archived_at }, {
      ...current,
      archived_at: new Date(),
      archived_by: "purge",
      [PURGE_FIELDS.versions]: [...(Array.isArray(versions) ? versions : []), earlier],
    }, { writeConcern: { w: "majority" } }).catch((error) => {
      options.log.warn(
        `⚠️ Could not archive order ${describeOrderId(document.order_id)} again: ${
          (error as Error).message
        }`,
      );
      return undefined;
    });
    counts.roundTrips++;
    if (!replaced || replaced.modifiedCount !== 1) {
      _countState(counts, state);
      continue;
    }
    counts.rearchived++;
    // Archived again, but on legal hold now: kept, as any held order.
    const source = current[SOURCE_FIELD] as Document;
    if (source?.[options.criteria.legalHoldField] === true) counts.held++;
    else redone.push({ ...document, state: "purgeable", [SOURCE_FIELD]: source });
  }
  return redone;
}

function _countState(counts: PurgeCounts, state: PurgeState): void {
  if (state === "changed") counts.changed++;
  else if (state === "no_proof") counts.noProof++;
  else if (state === "held") counts.held++;
  else if (state === "excluded") counts.excluded++;
  else if (state === "gone") counts.gone++;
}

function _countPurged(counts: PurgeCounts, document: Document): void {
  const bytes = BSON.calculateObjectSize(document[SOURCE_FIELD] ?? {});
  counts.purged++;
  counts.bytes += bytes;
  const month = purgeMonth(document.date_livraison);
  const figures = counts.months[month] ??= { orders: 0, bytes: 0 };
  figures.orders++;
  figures.bytes += bytes;
}

/**
 * The month of delivery an order is counted under.
 *
 * @param value The order's `date_livraison`.
 * @returns `YYYY-MM` in local time, or `unknown`.
 */
export function purgeMonth(value: unknown): string {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return "unknown";
  return `${String(value.getFullYear()).padStart(4, "0")}-${
    String(value.getMonth() + 1).padStart(2, "0")
  }`;
}

function _date(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}
