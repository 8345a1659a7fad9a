/**
 * Retention of what the tool keeps, by TTL indexes it makes (`archiver purge` makes them at the
 * start of each run that deletes):
 *
 * - the run history (`ARCHIVER_RUNS_EXPIRE_AFTER`, default 400 days): one TTL index on
 *   `finished_at` (batch runs, quarantine actions, purge runs) and one on `updated_at` (the
 *   watcher's per-day totals);
 * - the archive documents of purged orders (`ARCHIVER_ARCHIVE_EXPIRE_AFTER`, unset by default:
 *   nothing expires): a TTL index on `archived_at` whose `partialFilterExpression` holds only
 *   purged orders not on legal hold. MongoDB's partial filters accept equality, `$exists: true`,
 *   comparisons, `$type` and `$and` — not `$ne` nor `$exists: false` — so "not on hold" is written
 *   as an equality: the purge records `legal_hold: false` (the configured field) when it confirms
 *   an order purged (its delete had checked the order was not held). An operator who places a hold
 *   later sets it `true`: the document leaves the index and never expires. An archive document
 *   whose order is still in the source never expires (verify would count the order missing).
 *
 * @module
 */

import { type Collection, MongoServerError } from "mongodb";
import { duration, formatDuration } from "../runtime/parse.ts";
import type { Setting } from "../runtime/settings.ts";

/** The archive's expiry (purged orders only); 0: never. */
export const archiveExpireAfterSetting: Setting<number> = {
  env: "ARCHIVER_ARCHIVE_EXPIRE_AFTER",
  flag: "--archive-expire-after <age>",
  description:
    "Expire the archive documents of purged orders this long after archiving (TTL; never those on legal hold); none: never",
  default: 0,
  parse: (raw) => ["", "none", "0"].includes(raw.trim()) ? 0 : duration({ min: 86_400_000 })(raw),
  format: (value) => value === 0 ? "none" : formatDuration(value),
};

/** The run history's expiry. */
export const runsExpireAfterSetting: Setting<number> = {
  env: "ARCHIVER_RUNS_EXPIRE_AFTER",
  flag: "--runs-expire-after <age>",
  description: "Expire run history documents this long after they were written (TTL)",
  default: 400 * 86_400_000,
  parse: duration({ min: 86_400_000 }),
  format: formatDuration,
};

/** A TTL index the tool makes. */
export interface TtlIndex {
  /** Which collection: the run history or the archive. */
  on: "runs" | "archive";
  /** The index's name. */
  name: string;
  /** The date field. */
  field: string;
  /** Seconds after the field's time. */
  expireAfterSeconds: number;
  /** Which documents expire, when not all. */
  partialFilterExpression?: Record<string, unknown>;
}

/** The name of the archive's TTL index. */
export const ARCHIVE_EXPIRY_INDEX = "archiver_archive_expiry";

/**
 * The TTL indexes for the settings. Pure.
 *
 * @param settings The expiries in ms (archive: 0 for none) and the legal hold field.
 * @returns The indexes.
 */
export function ttlIndexes(settings: {
  runsExpireAfterMs: number;
  archiveExpireAfterMs: number;
  legalHoldField: string;
}): TtlIndex[] {
  const runs = Math.round(settings.runsExpireAfterMs / 1000);
  const indexes: TtlIndex[] = [
    { on: "runs", name: "archiver_runs_expiry", field: "finished_at", expireAfterSeconds: runs },
    {
      on: "runs",
      name: "archiver_watch_days_expiry",
      field: "updated_at",
      expireAfterSeconds: runs,
    },
  ];
  if (settings.archiveExpireAfterMs > 0) {
    indexes.push({
      on: "archive",
      name: ARCHIVE_EXPIRY_INDEX,
      field: "archived_at",
      expireAfterSeconds: Math.round(settings.archiveExpireAfterMs / 1000),
      partialFilterExpression: {
        purged_at: { $exists: true },
        [settings.legalHoldField]: false,
      },
    });
  }
  return indexes;
}

// IndexOptionsConflict: an index of that name exists with another expiry.
const _OPTIONS_CONFLICT = 85;

/**
 * Makes the TTL indexes, or changes an existing one's expiry (`collMod`).
 *
 * @param collections The run history and archive collections.
 * @param indexes What {@link ttlIndexes} returns.
 * @returns The indexes made or changed, by name.
 */
export async function ensureTtlIndexes(
  collections: { runs: Collection; archive: Collection },
  indexes: readonly TtlIndex[],
): Promise<string[]> {
  const done: string[] = [];
  for (const index of indexes) {
    const collection = collections[index.on];
    const options = {
      name: index.name,
      expireAfterSeconds: index.expireAfterSeconds,
      ...(index.partialFilterExpression
        ? { partialFilterExpression: index.partialFilterExpression }
        : {}),
    };
    try {
      await collection.createIndex({ [index.field]: 1 }, options);
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === _OPTIONS_CONFLICT)) throw error;
      await collection.db.command({
        collMod: collection.collectionName,
        index: { name: index.name, expireAfterSeconds: index.expireAfterSeconds },
      });
    }
    done.push(index.name);
  }
  return done;
}
