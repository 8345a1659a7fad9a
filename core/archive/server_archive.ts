/**
 * Archiving on the server: the enrichment aggregation ends in a `$merge` into the archive on
 * `order_id` (keep what exists, insert what does not), after an anti-join against the archive by
 * `order_id` in the same pipeline, so the archive documents never cross the wire. An order is its
 * `_id`: a delivered order whose number is already archived for another order (a number reused
 * after a restore or a restart of the numbering, two orders sharing one) is not merged — it would
 * break the archive's unique number — and comes back as a `conflict` naming the other order. A second, small aggregation then says
 * what happened to each order: which ones this call archived, which were already there (or won
 * by a concurrent writer), and why the others were not archived — the only figures the client
 * needs for its counts and the quarantine.
 *
 * Exact counts without reading the documents back: the client draws one ObjectId per order for
 * each attempt, and the merge gives the i-th archived document the i-th id (`$setWindowFields`'
 * `$documentNumber`), so an archive document is this call's exactly when its `_id` is one the
 * call drew — a retried attempt, a concurrent batch or watcher, or an old tool never draws the
 * same. Fresh ids on every attempt, so a retry after a partial or unconfirmed write never reuses
 * one.
 *
 * Needs MongoDB 5.0 (`$setWindowFields`, `let`, `$lookup` with `localField` and `pipeline`): a
 * server that refuses the pipeline itself is reported once by the caller, which archives through
 * the client instead.
 *
 * @module
 */

import { type Db, type Document, MongoServerError, ObjectId } from "mongodb";
import type { CollectionNames } from "./collections.ts";
import { enrichmentStages, orderFilter } from "./enrich.ts";
import { isolating } from "./isolate.ts";
import { describeOrderId, orderIdKey as idKey } from "./order_id.ts";
import type { QuarantineEntry } from "./quarantine.ts";
import { retryTransient, type TransientRetryOptions } from "../mongo/retry.ts";

/** An order as the modes hand it over: its id and, when it has one, its number. */
export interface OrderRef {
  /** The order's `_id`. */
  _id: unknown;
  /** Its number, unique in the archive too (anything the document holds: it is checked here). */
  numero_commande?: unknown;
}

/** What one archiving path did with a set of orders. */
export interface PathResult {
  /** Orders found in the archive under another writer's document, before this call wrote. */
  alreadyArchived: number;
  /** Orders found in the archive when written (a concurrent writer won, or a number repeated). */
  duplicates: number;
  /** How many orders this call archived. */
  archived: number;
  /** Ids of the orders archived by this call or found archived when written (for `recovered`). */
  written: unknown[];
  /** Ids of the orders done otherwise: already archived, duplicate, deleted, no longer delivered. */
  settled: unknown[];
  /** The orders not archived, with their reasons. */
  entries: QuarantineEntry[];
  /** The archive documents written (or that would be, in a dry run), when they were read. */
  documents: Document[];
  /**
   * The `_id`s of the orders among these that the quarantine held when the outcome was read, when
   * the path read it (the server path does, in its outcome aggregation); `undefined` otherwise.
   */
  quarantined?: unknown[];
}

/**
 * A result with nothing done yet.
 *
 * @returns Zero counts and empty lists.
 */
export function emptyPathResult(): PathResult {
  return {
    alreadyArchived: 0,
    duplicates: 0,
    archived: 0,
    written: [],
    settled: [],
    entries: [],
    documents: [],
  };
}

/** The codes with which a server refuses the merge pipeline itself, never one order's data. */
const REFUSAL_CODES = new Map<number, string>([
  [13, "Unauthorized: the user may not run $merge into the archive"],
  [8000, "AtlasError: this Atlas tier refuses the stage"],
  [40324, "Unrecognized pipeline stage: $merge needs MongoDB 4.2, $setWindowFields 5.0"],
  [40415, "an option this server does not know (let, or $lookup with localField and pipeline)"],
  [9, "FailedToParse: the pipeline uses syntax this server does not know"],
  [17276, "Use of undefined variable: this server ignores the aggregate's let"],
]);

// $merge's "Cannot find index to verify that join fields will be unique".
const _NO_UNIQUE_INDEX = 51183;

/** Thrown when the server refuses the merge pipeline itself: the caller falls back. */
export class MergeRefusedError extends Error {
  /**
   * @param cause The server's error.
   * @param why What the code means, for the operator.
   */
  constructor(override readonly cause: MongoServerError, readonly why: string) {
    super(`the server refused $merge (code ${cause.code}, ${why}): ${cause.message}`, { cause });
    this.name = "MergeRefusedError";
  }
}

/**
 * Thrown when the archive has no unique index on `order_id` for `$merge` to key on (51183: the
 * collection was dropped, or restored without its indexes, while the tool ran): nothing was
 * written; the caller recreates the indexes and tries again.
 */
export class ArchiveIndexMissingError extends Error {
  /** @param cause The server's error. */
  constructor(override readonly cause: MongoServerError) {
    super(`the archive has no unique index on order_id: ${cause.message}`, { cause });
    this.name = "ArchiveIndexMissingError";
  }
}

/** What archiving on the server needs. */
export interface ServerArchiveOptions {
  /** The database. */
  db: Db;
  /** Collection names. */
  names: CollectionNames;
  /** Who archives: stored in `archived_by`. */
  archivedBy: "batch" | "watch";
  /** Only orders that still have this status are archived, when given. */
  deliveredStatus?: string;
  /** Archive incomplete orders too, marked `complete: false`. */
  allowIncomplete: boolean;
  /** Bound of one server wait, in ms. */
  timeoutMs: number;
  /** How transient failures are retried. */
  retrying: TransientRetryOptions;
  /** How many of the archived documents the caller wants to see (read back, at most that many). */
  documentsWanted: number;
}

/**
 * Archives a set of orders on the server: one `$merge` aggregation, one outcome aggregation, and
 * one more of each only for an order that became archivable between the two.
 *
 * @param orders The orders, with ids and numbers.
 * @param options Database, names, mode and bounds.
 * @returns What happened to each order.
 * @throws {MergeRefusedError} When the server refuses the pipeline itself (nothing was written).
 * @throws {ArchiveIndexMissingError} When the archive has no unique index on its key.
 */
export async function archiveOnServer(
  orders: readonly OrderRef[],
  options: ServerArchiveOptions,
): Promise<PathResult> {
  const result = emptyPathResult();
  const mine = new Set<string>();
  const ours: ObjectId[] = [];
  let pending: readonly OrderRef[] = orders;
  for (let round = 1; pending.length > 0; round++) {
    const refused = await _merge(pending, mine, options);
    const outcome = await _outcome(pending, mine, options);
    if (round === 1) result.quarantined = outcome.quarantined;
    const retry: OrderRef[] = [];
    for (const ref of pending) {
      const key = idKey(ref._id);
      const found = outcome.orders.get(key);
      // The watcher's orders carry only their _id: the outcome read their number.
      const order = ref.numero_commande === undefined && found
        ? { ...ref, numero_commande: found.numero_commande }
        : ref;
      const reason = refused.get(key);
      if (reason !== undefined) {
        result.entries.push(_entry(order, "error", reason));
        continue;
      }
      const archived = outcome.archive.get(key);
      if (archived) {
        if (archived.mine) {
          result.archived++;
          result.written.push(order._id);
          ours.push(archived.archive_id as ObjectId);
        } else {
          // Another writer's document, before this call or a concurrent one.
          result.settled.push(order._id);
          const before = outcome.ourTime === undefined || !(archived.archived_at instanceof Date) ||
            archived.archived_at < outcome.ourTime;
          if (before) result.alreadyArchived++;
          else result.duplicates++;
        }
        continue;
      }
      if (!found) {
        // Deleted, or no longer delivered: nothing to archive, nothing to keep.
        result.settled.push(order._id);
      } else if ((found.invalid as string[]).length > 0) {
        result.entries.push(_entry(order, "invalid", (found.invalid as string[]).join("; ")));
      } else if (found.taken_by !== undefined) {
        result.entries.push(conflictEntry(order, found.taken_by));
      } else if (!found.complete && !options.allowIncomplete) {
        result.entries.push(_entry(order, "incomplete", `missing ${describeMissing(found)}`));
      } else if (round === 1) {
        // Archivable now but not when the merge ran (a reference or the status arrived in
        // between, or another order of the batch took the number first): once more.
        retry.push(order);
      } else {
        result.entries.push(
          _entry(order, "error", "changed while being archived, twice: retried later"),
        );
      }
    }
    pending = retry;
  }
  if (options.documentsWanted > 0 && ours.length > 0) {
    result.documents = await retryTransient(
      "Reading archived samples",
      () =>
        options.db.collection(options.names.archive)
          .find({ _id: { $in: ours.slice(0, options.documentsWanted) } }, {
            projection: { _id: 0 },
            maxTimeMS: options.timeoutMs,
          }).toArray(),
      options.retrying,
    );
  }
  return result;
}

/** Runs the merge, isolating orders the server refuses; returns those with the reason. */
async function _merge(
  orders: readonly OrderRef[],
  mine: Set<string>,
  options: ServerArchiveOptions,
): Promise<Map<string, string>> {
  const collection = options.db.collection(options.names.orders);
  const { refused } = await isolating(orders, (some) =>
    retryTransient(
      "Archiving orders on the server",
      async () => {
        // Fresh ids on every attempt: an earlier, partial one may have used the others.
        const ids = some.map(() => new ObjectId());
        for (const id of ids) mine.add(id.toHexString());
        try {
          await collection.aggregate(
            mergePipeline(
              { ids: some.map((o) => o._id), status: options.deliveredStatus },
              options.names,
              { archivedBy: options.archivedBy, allowIncomplete: options.allowIncomplete },
            ),
            {
              let: { ids },
              maxTimeMS: options.timeoutMs,
              writeConcern: { w: "majority", wtimeoutMS: options.timeoutMs },
            },
          ).toArray();
        } catch (error) {
          const why = error instanceof MongoServerError && typeof error.code === "number"
            ? REFUSAL_CODES.get(error.code)
            : undefined;
          if (why !== undefined) throw new MergeRefusedError(error as MongoServerError, why);
          if (error instanceof MongoServerError && error.code === _NO_UNIQUE_INDEX) {
            throw new ArchiveIndexMissingError(error);
          }
          throw error;
        }
        return [];
      },
      options.retrying,
    ));
  return new Map(refused.map(({ item, reason }) => [idKey(item._id), reason]));
}

interface _Outcome {
  /** Archive documents by their order's id key, and whether this call wrote them. */
  archive: Map<string, { archive_id: unknown; archived_at: unknown; mine: boolean }>;
  /** Orders not in the archive, by id key, with what the enrichment says of them. */
  orders: Map<string, Document>;
  /** The orders' ids the quarantine holds. */
  quarantined: unknown[];
  /** When this call's merge wrote (the server's `$$NOW`), if it wrote anything. */
  ourTime?: Date;
}

async function _outcome(
  orders: readonly OrderRef[],
  mine: Set<string>,
  options: ServerArchiveOptions,
): Promise<_Outcome> {
  const ids = orders.map((o) => o._id);
  const documents = await retryTransient(
    "Reading what archiving did",
    () =>
      options.db.collection(options.names.orders).aggregate(
        outcomePipeline({ ids, status: options.deliveredStatus }, options.names),
        { batchSize: 3 * orders.length + 1, maxTimeMS: options.timeoutMs },
      ).toArray(),
    options.retrying,
  );
  const outcome: _Outcome = { archive: new Map(), orders: new Map(), quarantined: [] };
  for (const document of documents) {
    if (Array.isArray(document.archived)) {
      for (const { a: archive_id, o: order_id, t: archived_at } of document.archived) {
        const ours = _isMine(archive_id, mine);
        outcome.archive.set(idKey(order_id), { archive_id, archived_at, mine: ours });
        if (ours && archived_at instanceof Date) {
          if (outcome.ourTime === undefined || archived_at < outcome.ourTime) {
            outcome.ourTime = archived_at;
          }
        }
      }
    } else if ("quarantined" in document) outcome.quarantined.push(document.quarantined);
    else outcome.orders.set(idKey(document.order_id), document);
  }
  return outcome;
}

// Archive entries per result document of the outcome (a few dozen bytes each).
const _ARCHIVED_PER_DOCUMENT = 1_000;

function _isMine(archiveId: unknown, mine: Set<string>): boolean {
  return archiveId instanceof ObjectId && mine.has(archiveId.toHexString());
}

// The selected orders not in the archive (the anti-join on the archive's unique order_id), enriched,
// with `_taken`: the ids of the other orders archived under their number (the unique number index).
function _unarchivedEnriched(
  selection: { ids: readonly unknown[]; status?: string },
  names: CollectionNames,
): Document[] {
  return [
    { $match: orderFilter(selection) },
    {
      $lookup: {
        from: names.archive,
        localField: "_id",
        foreignField: "order_id",
        pipeline: [{ $project: { _id: 1 } }],
        as: "_archived",
      },
    },
    { $match: { _archived: { $size: 0 } } },
    // The enrichment keeps the order as read (the purge's proof): without the anti-join's field.
    { $unset: "_archived" },
    ...enrichmentStages(names),
    {
      $lookup: {
        from: names.archive,
        localField: "numero_commande",
        foreignField: "numero_commande",
        pipeline: [{ $project: { _id: 0, order_id: 1 } }],
        as: "_taken",
      },
    },
  ];
}

/**
 * The merge pipeline: the selected orders not yet in the archive (by `order_id`), enriched, the
 * complete and valid ones (or every valid one with `allowIncomplete`) whose number no other order
 * holds in the archive — and of several in the batch sharing a number, the one with the lowest
 * `_id` — merged into the archive on `order_id`, with `archived_at` from the server's clock and
 * `_id` from the aggregate's `$$ids`. Returns no document.
 *
 * @param selection The orders, by id.
 * @param names The collection names.
 * @param options Who archives, and whether incomplete orders are archived.
 * @returns The pipeline, to run on the orders collection with `let: { ids }`, as many ids as
 *   orders.
 */
export function mergePipeline(
  selection: { ids: readonly unknown[]; status?: string },
  names: CollectionNames,
  options: { archivedBy: "batch" | "watch"; allowIncomplete: boolean },
): Document[] {
  return [
    ..._unarchivedEnriched(selection, names),
    {
      $match: options.allowIncomplete
        ? { invalid: { $size: 0 }, _taken: { $size: 0 } }
        : { invalid: { $size: 0 }, _taken: { $size: 0 }, complete: true },
    },
    // Two orders of the batch with one number: the lowest _id is archived, the other is a
    // conflict (the outcome finds the number taken).
    {
      $setWindowFields: {
        partitionBy: "$numero_commande",
        sortBy: { order_id: 1 },
        output: { _nth: { $documentNumber: {} } },
      },
    },
    { $match: { _nth: 1 } },
    { $setWindowFields: { sortBy: { order_id: 1 }, output: { _rank: { $documentNumber: {} } } } },
    {
      $set: {
        _id: { $arrayElemAt: ["$$ids", { $subtract: ["$_rank", 1] }] },
        archived_at: "$$NOW",
        archived_by: { $literal: options.archivedBy },
      },
    },
    { $unset: ["_rank", "_nth", "_taken", "invalid"] },
    {
      $merge: {
        into: names.archive,
        on: "order_id",
        whenMatched: "keepExisting",
        whenNotMatched: "insert",
      },
    },
  ];
}

/**
 * The outcome pipeline: for the selected orders not in the archive, what the enrichment says of
 * them (`order_id`, `numero_commande`, `invalid`, `complete`, `missing`, `missing_menu_ids`, and
 * `taken_by`: the other order archived under the number, if any); then the archive's documents of
 * the selected orders, up to 1,000 in each result document (`archived`: `a` the archive `_id`, `o`
 * the `order_id`, `t` the `archived_at`); then which of them the quarantine holds
 * (`quarantined`). A few dozen bytes per order, one round trip.
 *
 * @param selection The orders, by id.
 * @param names The collection names.
 * @returns The pipeline, to run on the orders collection.
 */
export function outcomePipeline(
  selection: { ids: readonly unknown[]; status?: string },
  names: CollectionNames,
): Document[] {
  return [
    ..._unarchivedEnriched(selection, names),
    {
      $project: {
        _id: 0,
        order_id: 1,
        numero_commande: 1,
        invalid: 1,
        complete: 1,
        missing: 1,
        missing_menu_ids: 1,
        taken_by: { $arrayElemAt: ["$_taken.order_id", 0] },
      },
    },
    {
      $unionWith: {
        coll: names.archive,
        pipeline: [
          { $match: { order_id: { $in: [...selection.ids] } } },
          // In documents of up to 1,000 entries, not one document each: the client decodes a
          // handful of documents instead of one per order, the costliest part of its work per
          // batch (bench/batch.ts, `--cpu-prof`), and a document stays far below 16 MB.
          {
            $setWindowFields: { sortBy: { order_id: 1 }, output: { _n: { $documentNumber: {} } } },
          },
          {
            $group: {
              _id: { $floor: { $divide: [{ $subtract: ["$_n", 1] }, _ARCHIVED_PER_DOCUMENT] } },
              archived: { $push: { a: "$_id", o: "$order_id", t: "$archived_at" } },
            },
          },
          { $project: { _id: 0, archived: 1 } },
        ],
      },
    },
    {
      $unionWith: {
        coll: names.quarantine,
        pipeline: [
          { $match: { _id: { $in: [...selection.ids] } } },
          { $project: { _id: 0, quarantined: "$_id" } },
        ],
      },
    },
  ];
}

/**
 * The quarantine entry of an order whose number is archived for another order.
 *
 * @param order The order.
 * @param other The `_id` of the order archived under the same number.
 * @returns A `conflict` entry naming the other order.
 */
export function conflictEntry(order: OrderRef, other: unknown): QuarantineEntry {
  const number = _isNumber(order.numero_commande) ? order.numero_commande : "its number";
  return {
    ..._entry(
      order,
      "conflict",
      `number ${number} is archived for another order, _id ${describeOrderId(other)}`,
    ),
    conflict_with: other,
  };
}

/**
 * Names what an incomplete order lacks: its references, and the menu items by id.
 *
 * @param document The enrichment's output for the order (`missing`, `missing_menu_ids`).
 * @returns E.g. `client, menu items 3, 9`.
 */
export function describeMissing(document: Document): string {
  const missing = ((document.missing as string[] | undefined) ?? []).filter((n) => n !== "menu");
  const menuIds = (document.missing_menu_ids as unknown[] | undefined) ?? [];
  if (menuIds.length > 0) {
    missing.push(`menu item${menuIds.length > 1 ? "s" : ""} ${menuIds.map(String).join(", ")}`);
  }
  return missing.join(", ");
}

function _entry(
  order: OrderRef,
  reason: QuarantineEntry["reason"],
  detail: string,
): QuarantineEntry {
  return {
    _id: order._id,
    numero_commande: _isNumber(order.numero_commande) ? order.numero_commande : null,
    reason,
    detail,
  };
}

function _isNumber(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}
