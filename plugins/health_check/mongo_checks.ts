/**
 * The checks that ask MongoDB: reachable (ping round trip), change streams possible (replica set
 * or sharded cluster), collections and the archive's unique index present, and no complete
 * delivered order missing from the archive. One short-lived client, every step bounded.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { MongoClient } from "mongodb";
import { collectionNames } from "../../core/archive/collections.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { maskUri } from "../../core/runtime/mask.ts";
import { createMongoClient } from "../../core/mongo/client.ts";
import { describeError } from "../../core/mongo/errors.ts";
import { missingFromArchivePipeline } from "./completeness.ts";
import type { CheckResult } from "./state.ts";
import { result } from "./state.ts";
import { collectionsCheck, completenessCheck, mongoChecks, type MongoProbe } from "./thresholds.ts";

/** The names of the checks this module reports, in order. */
export const MONGO_CHECK_NAMES = [
  "mongodb",
  "change_streams",
  "collections",
  "archive_completeness",
] as const;

/** How the MongoDB checks run. */
export interface MongoCheckOptions {
  /** Delivered orders older than this are expected in the archive, in ms. */
  graceMs: number;
  /** Time left for all MongoDB checks, in ms. */
  budgetMs: number;
  /** The current time in ms. */
  now: number;
  /** Receives each result as soon as it is known, so a deadline keeps what finished. */
  report: (check: CheckResult) => void;
  /** Where `❌ Failed to connect to MongoDB` is logged. */
  log?: Logger;
  /** At most this many missing orders are looked up. @default 100 */
  limit?: number;
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
      options.report(result("collections", "UNKNOWN", "MongoDB unreachable"));
      options.report(result("archive_completeness", "UNKNOWN", "MongoDB unreachable"));
      return;
    }
    const db = client!.db(config.db);
    try {
      const present = (await db.listCollections({}, { nameOnly: true, maxTimeMS: remaining() })
        .toArray()).map((c) => c.name);
      const archiveIndexes = present.includes(config.archiveCollection)
        ? await db.collection(config.archiveCollection).indexes()
        : [];
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
        archiveIndexes: archiveIndexes.map((index) => ({
          key: index.key as Record<string, unknown>,
          unique: index.unique,
        })),
      }));
    } catch (error) {
      options.report(
        result("collections", "UNKNOWN", `Cannot list collections: ${describeError(error)}`),
      );
    }
    const limit = options.limit ?? 100;
    try {
      const pipeline = missingFromArchivePipeline({
        deliveredStatus: config.deliveredStatus,
        deliveredBefore: new Date(options.now - options.graceMs),
        names: collectionNames(config),
        limit,
      });
      const missing = await db.collection(config.ordersCollection)
        .aggregate<{ numero_commande: unknown }>(pipeline, { maxTimeMS: remaining() })
        .toArray();
      options.report(completenessCheck(missing.map((order) => String(order.numero_commande)), {
        graceMs: options.graceMs,
        limit,
      }));
    } catch (error) {
      options.report(
        result(
          "archive_completeness",
          "UNKNOWN",
          `Cannot look for unarchived orders: ${describeError(error)}`,
        ),
      );
    }
  } finally {
    const closing = client?.close().catch(() => {});
    // A client still selecting a server must not hold the command past its deadline.
    if (closing) await Promise.race([closing, _sleep(1_000)]);
  }
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

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Deno.unrefTimer(timer);
  });
}
