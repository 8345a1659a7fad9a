/**
 * What the `oplog_headroom` check reads: the saved resume token from the configured store (the
 * token file, or the Mongo token store) and the oplog window from `local.oplog.rs`, with one
 * short-lived client, every step bounded.
 *
 * @module
 */

import type { MongoClient } from "mongodb";
import { collectionNames } from "../../../core/archive/collections.ts";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { closeWithin, createMongoClient } from "../../../core/mongo/client.ts";
import { describeError } from "../../../core/mongo/errors.ts";
import { readOplogWindow, resumeHeadroom } from "../../../core/stream/oplog_window.ts";
import {
  FileTokenStore,
  MongoTokenStore,
  type SavedToken,
  type TokenStore,
} from "../../../core/stream/token_store.ts";
import type { OplogHeadroomSeen } from "../checks/oplog_headroom.ts";

/** Where the token is and how long the check may take. */
export interface OplogHeadroomOptions {
  /** The configured token store. */
  tokenStore: "file" | "mongo";
  /** The token file (resolved). */
  tokenFile: string;
  /** The Mongo token store's collection. */
  tokenCollection: string;
  /** Time for the whole check, in ms. */
  budgetMs: number;
}

/**
 * Reads the token and the oplog window, and computes the headroom.
 *
 * @param config The connection settings.
 * @param options The token store and the time budget.
 * @returns What the check judges.
 */
export async function readOplogHeadroom(
  config: GlobalConfig,
  options: OplogHeadroomOptions,
): Promise<OplogHeadroomSeen> {
  const timeout = Math.max(100, Math.min(config.connectTimeout, options.budgetMs - 500));
  let client: MongoClient | undefined;
  try {
    const namespace = `${config.db}.${collectionNames(config).orders}`;
    let store: TokenStore;
    if (options.tokenStore === "mongo") {
      client = createMongoClient({ uri: config.uri, connectTimeout: timeout }, {
        connectTimeoutMS: timeout,
        socketTimeoutMS: timeout,
      });
      store = new MongoTokenStore(
        client.db(config.db).collection(options.tokenCollection),
        namespace,
      );
    } else {
      store = new FileTokenStore(options.tokenFile);
    }
    let token: SavedToken | undefined;
    try {
      token = await store.load();
    } catch (error) {
      // The resume_token check judges the token itself; without a usable one there is no headroom.
      return { kind: "unreadable-token", where: store.description, reason: describeError(error) };
    }
    if (!token) return { kind: "no-token", where: store.description };
    if (!token.clusterTime) return { kind: "no-token-time", where: store.description };
    client ??= createMongoClient({ uri: config.uri, connectTimeout: timeout }, {
      connectTimeoutMS: timeout,
      socketTimeoutMS: timeout,
    });
    const read = await readOplogWindow(client, { maxTimeMs: timeout });
    if (read.kind !== "ok") return read;
    // The watcher's gauges come from the same function: health and the metric agree.
    return { kind: "ok", headroom: resumeHeadroom(read.window, token.clusterTime) };
  } catch (error) {
    return { kind: "error", reason: describeError(error) };
  } finally {
    await closeWithin(client);
  }
}
