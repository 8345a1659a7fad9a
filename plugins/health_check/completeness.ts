/**
 * The archive-completeness query: delivered orders older than a grace period that are absent
 * from the archive and complete (every reference resolves, so the archiver should have taken
 * them). It reuses the shared enrichment pipeline (`core/archive/enrich.ts`) so "complete" means exactly
 * what batch and watch mean by it, and joins the archive first so only unarchived orders are
 * enriched.
 *
 * @module
 */

import type { Document } from "mongodb";
import type { CollectionNames } from "../../core/archive/collections.ts";
import { enrichmentPipeline } from "../../core/archive/enrich.ts";

/** What the query needs. */
export interface CompletenessQuery {
  /** The status that means delivered. */
  deliveredStatus: string;
  /** Orders delivered before this time are expected in the archive. */
  deliveredBefore: Date;
  /** The collection names. */
  names: CollectionNames;
  /** At most this many orders are returned. */
  limit: number;
}

/**
 * Builds the pipeline, run on the orders collection, returning `{ numero_commande }` of each
 * complete delivered order past the grace period that the archive lacks, oldest delivery first.
 *
 * @param query Status, cut-off, collection names and limit.
 * @returns The aggregation pipeline.
 * @throws {TypeError} When the enrichment pipeline no longer starts with its `$match`.
 */
export function missingFromArchivePipeline(query: CompletenessQuery): Document[] {
  const [match, ...enrich] = enrichmentPipeline(
    { status: query.deliveredStatus, to: query.deliveredBefore },
    query.names,
  );
  if (!match || !("$match" in match)) {
    throw new TypeError("The enrichment pipeline must start with its $match stage");
  }
  return [
    match,
    { $sort: { date_livraison: 1 } },
    {
      $lookup: {
        from: query.names.archive,
        localField: "numero_commande",
        foreignField: "numero_commande",
        as: "_archived",
      },
    },
    { $match: { "_archived.0": { $exists: false } } },
    { $project: { _archived: 0 } },
    ...enrich,
    { $match: { complete: true } },
    { $limit: query.limit },
    { $project: { _id: 0, numero_commande: 1 } },
  ];
}
