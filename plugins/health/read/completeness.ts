/**
 * What the `archive_completeness` check reads: the delivered orders older than the grace period,
 * counted as archived, quarantined, released or missing by `archiver verify`'s own function
 * ({@link countDeliveredOrders}), so health and verify always agree on what is missing.
 *
 * @module
 */

import type { Db } from "mongodb";
import type { CollectionNames } from "../../../core/archive/collections.ts";
import { countDeliveredOrders } from "../../../core/archive/verify.ts";
import { QUARANTINE_REASONS } from "../../../core/archive/quarantine.ts";
import type { CompletenessSeen } from "../checks/archive_completeness.ts";

/** What the count needs. */
export interface CompletenessQuery {
  /** The status that means delivered. */
  deliveredStatus: string;
  /** Orders delivered before this time are expected to be settled. */
  deliveredBefore: Date;
  /** The collection names. */
  names: CollectionNames;
  /** The server time bound of each lookup, in ms. */
  maxTimeMs: number;
  /** Stops the count (the health deadline). */
  signal?: AbortSignal;
}

/**
 * Counts the delivered orders older than the grace period as `archiver verify` does.
 *
 * @param db The database.
 * @param query Status, cut-off, collection names and time bound.
 * @returns The figures.
 */
export async function readCompleteness(
  db: Db,
  query: CompletenessQuery,
): Promise<CompletenessSeen> {
  const report = await countDeliveredOrders(db, query.names, {
    deliveredStatus: query.deliveredStatus,
    until: query.deliveredBefore,
    operationTimeoutMs: query.maxTimeMs,
    signal: query.signal,
  });
  const { totals } = report;
  return {
    delivered: totals.delivered,
    archived: totals.archived,
    quarantined: QUARANTINE_REASONS.reduce((sum, reason) => sum + totals.quarantined[reason], 0),
    released: totals.released,
    missing: totals.missing,
    sample: report.missing_sample,
  };
}
