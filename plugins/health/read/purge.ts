/**
 * What the `purge` check reads: the newest purge run of the run history, the archive documents
 * a crashed run left marked `purge_pending` for over an hour, and the archive's expiry index.
 * Reads only (find and listIndexes), each bounded.
 *
 * @module
 */

import { type Db, MongoServerError } from "mongodb";
import { ARCHIVE_EXPIRY_INDEX } from "../../../core/archive/retention.ts";
import type { PurgeSeen } from "../checks/purge.ts";

// A purge_pending mark older than this was left by a run that stopped mid-chunk.
const _STALE_PENDING_MS = 3_600_000;
const _NAMESPACE_NOT_FOUND = 26;

/**
 * Reads what the `purge` check judges.
 *
 * @param db The database.
 * @param options Collection names, the expiry setting (ms, 0: none), the clock and the time bound.
 * @returns What was seen.
 */
export async function readPurge(
  db: Db,
  options: {
    runs: string;
    archive: string;
    archiveExpireAfterMs: number;
    now: number;
    maxTimeMs: number;
  },
): Promise<PurgeSeen> {
  const last = await db.collection(options.runs).findOne(
    { mode: "purge", action: "purge" },
    { sort: { finished_at: -1 }, maxTimeMS: options.maxTimeMs },
  );
  const archive = db.collection(options.archive);
  const stalePending = await archive.countDocuments(
    { "purge_pending.at": { $lt: new Date(options.now - _STALE_PENDING_MS) } },
    { maxTimeMS: options.maxTimeMs },
  );
  let indexes: Array<{ name?: unknown; expireAfterSeconds?: unknown }> = [];
  try {
    indexes = await archive.listIndexes({ maxTimeMS: options.maxTimeMs }).toArray();
  } catch (error) {
    if (!(error instanceof MongoServerError && error.code === _NAMESPACE_NOT_FOUND)) throw error;
  }
  const expiry = indexes.find((index) => index.name === ARCHIVE_EXPIRY_INDEX);
  return {
    ...(last && last.finished_at instanceof Date
      ? {
        last: {
          finished_at: last.finished_at,
          exit_code: typeof last.exit_code === "number" ? last.exit_code : 0,
          orders_purged: last.orders_purged,
          orders_changed: last.orders_changed,
          pauses: last.pauses,
          lag_seconds: last.lag_seconds,
          stopped: last.stopped,
        },
      }
      : {}),
    stalePending,
    expirySetting: Math.round(options.archiveExpireAfterMs / 1000),
    ...(typeof expiry?.expireAfterSeconds === "number"
      ? { expiryIndex: expiry.expireAfterSeconds }
      : {}),
  };
}
