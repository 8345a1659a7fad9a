/**
 * What `archiver purge` sends, as pure builders: the chunk query (the archive's oldest documents
 * with what the server finds of each order now) and the delete whose own filter carries the
 * proof. An order is deleted only when it equals, at the moment of the delete and as the server
 * sees it, the `source` its archive document kept when it was archived (`$$ROOT` before the
 * enrichment, `enrich.ts`): the check and the delete are one operation on one document, so an
 * order changed between the chunk query and the delete is not deleted.
 *
 * @module
 */

import type { Document } from "mongodb";
import type { CollectionNames } from "./collections.ts";
import { SOURCE_FIELD } from "./enrich.ts";

/**
 * What the chunk query finds of an archived order: `purgeable` (its order equals the archived
 * copy), `changed` (the order differs from it), `no_proof` (an archive document of an older
 * version, without `source`), `held` (legal hold, on the order or on its archive document),
 * `excluded` (the order matches `--exclude`), `gone` (the order is no longer in the source).
 */
export type PurgeState = "purgeable" | "changed" | "no_proof" | "held" | "excluded" | "gone";

/** The states, in the order reports list them. */
export const PURGE_STATES: readonly PurgeState[] = [
  "purgeable",
  "changed",
  "no_proof",
  "held",
  "excluded",
  "gone",
];

/** Which archive documents a purge looks at. */
export interface PurgeCriteria {
  /** Only documents archived before this time. */
  archivedBefore: Date;
  /** The field that puts an order (or its archive document) on legal hold when `true`. */
  legalHoldField: string;
  /** A query on the orders: those it matches are never purged. */
  exclude?: Document;
}

/** Where the previous chunk ended: the chunk query continues after it (oldest first). */
export interface PurgeCursor {
  /** The last document's `archived_at`. */
  archived_at: Date;
  /** The last document's `_id`. */
  _id: unknown;
}

/** The index the chunk query walks: the archive by `archived_at`, then `_id`. */
export const PURGE_INDEX = { key: { archived_at: 1, _id: 1 }, name: "archiver_purge" } as const;

/**
 * The archive documents a purge may still act on: archived before the bound, neither purged nor
 * restored (an order the operator restored stays), after the cursor.
 *
 * @param criteria The age bound.
 * @param after Where the previous chunk ended.
 * @returns A query on the archive.
 */
export function purgeScope(criteria: PurgeCriteria, after?: PurgeCursor): Document {
  const filter: Document = {
    archived_at: { $lt: criteria.archivedBefore },
    purged_at: { $exists: false },
    restored_at: { $exists: false },
  };
  if (after) {
    filter.$or = [
      { archived_at: { $gt: after.archived_at } },
      { archived_at: after.archived_at, _id: { $gt: after._id } },
    ];
  }
  return filter;
}

/**
 * The chunk query, run on the archive: the next `size` documents oldest first, each with its
 * `state` ({@link PurgeState}), `order_id`, `archived_at`, the order's `date_livraison`, and its
 * `source` (only when purgeable: it travels back in the delete's filter). What the server finds
 * of each order comes from a `$lookup` on the orders' `_id` that returns one boolean, never the
 * order.
 *
 * @param criteria The age bound, legal hold field and exclusions.
 * @param names The collection names.
 * @param options The chunk's size and where the previous one ended.
 * @returns The pipeline.
 */
export function purgeChunkPipeline(
  criteria: PurgeCriteria,
  names: CollectionNames,
  options: { size: number; after?: PurgeCursor },
): Document[] {
  const hold = criteria.legalHoldField;
  const source = `$${SOURCE_FIELD}`;
  const pipeline: Document[] = [
    { $match: purgeScope(criteria, options.after) },
    { $sort: { archived_at: 1, _id: 1 } },
    { $limit: options.size },
    {
      $lookup: {
        from: names.orders,
        localField: "order_id",
        foreignField: "_id",
        let: { source },
        pipeline: [{ $project: { _id: 0, same: { $eq: ["$$ROOT", "$$source"] } } }],
        as: "_now",
      },
    },
  ];
  if (criteria.exclude) {
    pipeline.push({
      $lookup: {
        from: names.orders,
        localField: "order_id",
        foreignField: "_id",
        pipeline: [{ $match: criteria.exclude }, { $project: { _id: 1 } }],
        as: "_excluded",
      },
    });
  }
  pipeline.push(
    {
      $set: {
        state: {
          $switch: {
            branches: [
              { case: { $ne: [{ $type: source }, "object"] }, then: "no_proof" },
              {
                case: { $or: [{ $eq: [`$${hold}`, true] }, { $eq: [`${source}.${hold}`, true] }] },
                then: "held",
              },
              { case: { $eq: [{ $size: "$_now" }, 0] }, then: "gone" },
              ...(criteria.exclude
                ? [{ case: { $gt: [{ $size: "$_excluded" }, 0] }, then: "excluded" }]
                : []),
              { case: { $ne: [{ $arrayElemAt: ["$_now.same", 0] }, true] }, then: "changed" },
            ],
            default: "purgeable",
          },
        },
      },
    },
    {
      $project: {
        _id: 1,
        order_id: 1,
        archived_at: 1,
        date_livraison: 1,
        state: 1,
        [SOURCE_FIELD]: { $cond: [{ $eq: ["$state", "purgeable"] }, source, "$$REMOVE"] },
      },
    },
  );
  return pipeline;
}

/**
 * The delete of one order, its proof in its own filter: the order with this `_id`, not on legal
 * hold, not matched by the exclusions, and equal as a whole (every field, in order) to the copy
 * the archive kept. The server evaluates it on the document it deletes, so a concurrent change
 * makes it delete nothing.
 *
 * @param orderId The order's `_id`.
 * @param source The archived copy, as read (types kept: read with `promoteValues: false`).
 * @param criteria The legal hold field and the exclusions.
 * @returns A `deleteOne` of a bulk write.
 */
export function proofDelete(
  orderId: unknown,
  source: Document,
  criteria: Pick<PurgeCriteria, "legalHoldField" | "exclude">,
): { deleteOne: { filter: Document } } {
  const filter: Document = { _id: orderId, [criteria.legalHoldField]: { $ne: true } };
  if (criteria.exclude) filter.$nor = [criteria.exclude];
  filter.$expr = { $eq: ["$$ROOT", { $literal: source }] };
  return { deleteOne: { filter } };
}
