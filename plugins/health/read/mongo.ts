/**
 * The checks that ask MongoDB: reachable (ping round trip), change streams possible (replica set
 * or sharded cluster), collections present, the archive's unique index sound, what the
 * quarantine holds, and no delivered order missing (counted as `archiver verify` does). One short-lived
 * client, every step bounded.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Db, MongoClient } from "mongodb";
import {
  type ArchiveIndexState,
  inspectArchiveIndex,
} from "../../../core/archive/archive_index.ts";
import { collectionNames } from "../../../core/archive/collections.ts";
import {
  emptyReasonCounts,
  QUARANTINE_REASONS,
  type QuarantineReason,
} from "../../../core/archive/quarantine.ts";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { maskUri } from "../../../core/runtime/mask.ts";
import { closeWithin, createMongoClient } from "../../../core/mongo/client.ts";
import { describeError } from "../../../core/mongo/errors.ts";
import { leaseCollectionSetting, readLease } from "../../../core/stream/lease.ts";
import { readCompleteness } from "./completeness.ts";
import { readPurge } from "./purge.ts";
import { purgeCheck } from "../checks/purge.ts";
import { watchLeaseCheck } from "../checks/watch_lease.ts";
import type { CheckResult } from "../state.ts";
import { result } from "../state.ts";
import { completenessCheck } from "../checks/archive_completeness.ts";
import { archiveIndexCheck } from "../checks/archive_index.ts";
import { collectionsCheck } from "../checks/collections.ts";
import { mongoChecks, type MongoProbe } from "../checks/mongodb.ts";
import {
  quarantineCheck,
  type QuarantinedOrder,
  type QuarantineSeen,
} from "../checks/quarantine.ts";
import type { HealthThresholds } from "../thresholds.ts";

/** The names of the checks this module reports, in order. */
export const MONGO_CHECK_NAMES = [
  "mongodb",
  "change_streams",
  "collections",
  "archive_index",
  "archive_completeness",
  "quarantine",
  "purge",
] as const;

/** How the MongoDB checks run. */
export interface MongoCheckOptions {
  /** Delivered orders older than this are expected in the archive, in ms. */
  graceMs: number;
  /** The thresholds (the quarantine's grace period). */
  thresholds: HealthThresholds;
  /** Time left for all MongoDB checks, in ms. */
  budgetMs: number;
  /** The current time in ms. */
  now: number;
  /** Receives each result as soon as it is known, so a deadline keeps what finished. */
  report: (check: CheckResult) => void;
  /** Where `❌ Failed to connect to MongoDB` is logged. */
  log?: Logger;
  /** `ARCHIVER_ARCHIVE_EXPIRE_AFTER` in ms (0: unset), compared with the archive's TTL index. */
  archiveExpireAfterMs?: number;
}

/**
 * Runs the MongoDB checks, reporting each result as it is known.
 *
 * @param config The connection and collection settings.
 * @param options Grace period, time budget, clock and the result callback.
 */
export async function runMongoChecks(
  config: GlobalConfig,
  options: MongoCheckOptions,
): Promise<void> {
  const started = Date.now();
  const remaining = () => Math.max(100, options.budgetMs - (Date.now() - started));
  const selection = Math.max(100, Math.min(config.connectTimeout, options.budgetMs - 500));
  let client: MongoClient | undefined;
  try {
    const probe = await _probe(config, selection, (created) => (client = created));
    const [mongodb, changeStreams] = mongoChecks(probe);
    options.report(mongodb);
    options.report(changeStreams);
    if (!probe.ok) {
      options.log?.error(
        `❌ Failed to connect to MongoDB at ${maskUri(config.uri)}: ${probe.reason}`,
      );
      for (const name of MONGO_CHECK_NAMES.slice(2)) {
        options.report(result(name, "UNKNOWN", "MongoDB unreachable"));
      }
      return;
    }
    const db = client!.db(config.db);
    try {
      const present = (await db.listCollections({}, { nameOnly: true, maxTimeMS: remaining() })
        .toArray()).map((c) => c.name);
      options.report(collectionsCheck({
        present,
        orders: config.ordersCollection,
        references: [
          config.clientsCollection,
          config.couriersCollection,
          config.restaurantsCollection,
          config.menuCollection,
        ],
        archive: config.archiveCollection,
      }));
    } catch (error) {
      options.report(
        result("collections", "UNKNOWN", `Cannot list collections: ${describeError(error)}`),
      );
    }
    const names = collectionNames(config);
    let archiveIndex: ArchiveIndexState | undefined;
    try {
      archiveIndex = await inspectArchiveIndex(db.collection(names.archive));
      options.report(archiveIndexCheck(names.archive, archiveIndex));
    } catch (error) {
      options.report(
        result(
          "archive_index",
          "UNKNOWN",
          `Cannot read the indexes of ${names.archive}: ${describeError(error)}`,
        ),
      );
    }
    try {
      const seen = await readQuarantine(db, names.quarantine, {
        incompleteBefore: new Date(options.now - options.thresholds.quarantineGraceMs),
        maxTimeMs: remaining(),
      });
      options.report(quarantineCheck(seen, options.now, options.thresholds));
    } catch (error) {
      options.report(
        result(
          "quarantine",
          "UNKNOWN",
          `Cannot read the quarantine ${names.quarantine}: ${describeError(error)}`,
        ),
      );
    }
    try {
      const seen = await readPurge(db, {
        runs: config.runsCollection,
        archive: names.archive,
        archiveExpireAfterMs: options.archiveExpireAfterMs ?? 0,
        now: options.now,
        maxTimeMs: remaining(),
      });
      options.report(purgeCheck(seen, options.now));
    } catch (error) {
      options.report(
        result("purge", "UNKNOWN", `Cannot read the purge runs: ${describeError(error)}`),
      );
    }
    // watch --ha: judged only where a lease document exists for the watched collection.
    try {
      const leases = (config as { leaseCollection?: string }).leaseCollection ??
        leaseCollectionSetting.default;
      const reading = await readLease(db.collection(leases), `${config.db}.${names.orders}`, {
        maxTimeMs: remaining(),
      });
      if (reading) options.report(watchLeaseCheck(reading));
    } catch (error) {
      options.report(
        result("watch_lease", "UNKNOWN", `Cannot read the watch lease: ${describeError(error)}`),
      );
    }
    try {
      const seen = await readCompleteness(db, {
        deliveredStatus: config.deliveredStatus,
        deliveredBefore: new Date(options.now - options.graceMs),
        names,
        maxTimeMs: remaining(),
      });
      options.report(completenessCheck(seen, { graceMs: options.graceMs, archiveIndex }));
    } catch (error) {
      options.report(
        result(
          "archive_completeness",
          "UNKNOWN",
          `Cannot count the delivered orders: ${describeError(error)}`,
        ),
      );
    }
  } finally {
    // A client still selecting a server must not hold the command past its deadline.
    await closeWithin(client);
  }
}

/**
 * Reads what the quarantine holds: counts by reason (one pass), how many incomplete orders are
 * past the grace period, and the oldest few of each kind. A missing collection is empty.
 *
 * @param db The database.
 * @param collection The quarantine collection's name.
 * @param options Incomplete orders first seen before this are overdue; the server time bound.
 * @returns What the quarantine check judges.
 */
export async function readQuarantine(
  db: Db,
  collection: string,
  options: { incompleteBefore: Date; maxTimeMs: number; examples?: number },
): Promise<QuarantineSeen> {
  const quarantine = db.collection(collection);
  const examples = options.examples ?? 5;
  const groups = await quarantine.aggregate<{ _id: unknown; count: number; overdue: number }>([
    {
      $group: {
        _id: "$reason",
        count: { $sum: 1 },
        overdue: { $sum: { $cond: [{ $lt: ["$first_seen", options.incompleteBefore] }, 1, 0] } },
      },
    },
  ], { maxTimeMS: options.maxTimeMs }).toArray();
  const counts: Record<QuarantineReason, number> = emptyReasonCounts();
  let incompleteOverdue = 0;
  for (const group of groups) {
    // A reason this version does not know is counted as an error: it needs someone's look.
    const reason = _reason(group._id);
    counts[reason] += group.count;
    if (reason === "incomplete") incompleteOverdue += group.overdue;
  }
  const oldest = async (filter: Record<string, unknown>) =>
    (await quarantine.find(filter, {
      sort: { first_seen: 1, _id: 1 },
      limit: examples,
      projection: { _id: 1, numero_commande: 1, reason: 1, detail: 1, first_seen: 1 },
      maxTimeMS: options.maxTimeMs,
    }).toArray()).map(_quarantinedOrder);
  return {
    collection,
    counts,
    incompleteOverdue,
    failing: counts.invalid + counts.conflict + counts.error > 0
      ? await oldest({ reason: { $ne: "incomplete" } })
      : [],
    incomplete: counts.incomplete > 0 ? await oldest({ reason: "incomplete" }) : [],
  };
}

function _reason(value: unknown): QuarantineReason {
  return QUARANTINE_REASONS.includes(value as QuarantineReason)
    ? value as QuarantineReason
    : "error";
}

function _quarantinedOrder(document: Record<string, unknown>): QuarantinedOrder {
  const firstSeen = document.first_seen instanceof Date ? document.first_seen.getTime() : 0;
  return {
    numero_commande: typeof document.numero_commande === "string" && document.numero_commande !== ""
      ? document.numero_commande
      : null,
    id: _idText(document._id),
    reason: _reason(document.reason),
    detail: typeof document.detail === "string" ? document.detail : "",
    first_seen: firstSeen,
  };
}

function _idText(id: unknown): string {
  if (typeof id === "string") return id;
  if (id instanceof Object && typeof (id as { toHexString?: unknown }).toHexString === "function") {
    return (id as { toHexString(): string }).toHexString();
  }
  return JSON.stringify(id) ?? String(id);
}

async function _probe(
  config: GlobalConfig,
  selectionMs: number,
  created: (client: MongoClient) => void,
): Promise<MongoProbe> {
  let client: MongoClient;
  try {
    client = createMongoClient({ uri: config.uri, connectTimeout: selectionMs }, {
      connectTimeoutMS: selectionMs,
      socketTimeoutMS: selectionMs,
    });
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
  created(client);
  try {
    await client.connect();
    const admin = client.db("admin");
    const before = performance.now();
    await admin.command({ ping: 1 });
    const pingMs = Math.round(performance.now() - before);
    const hello = await admin.command({ hello: 1 });
    const topology = typeof hello.setName === "string"
      ? "replicaSet"
      : hello.msg === "isdbgrid"
      ? "sharded"
      : "standalone";
    return { ok: true, pingMs, topology, setName: hello.setName };
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
}
