/**
 * What the `resume_token` check reads: the watcher's saved resume token from the store the
 * watcher is configured with — the token file, or, with `ARCHIVER_TOKEN_STORE=mongo` (every
 * `--ha` deployment), the Mongo token store's document for the watched namespace, read only. A
 * token file left over beside a Mongo store is never what health judges.
 *
 * @module
 */

import type { MongoClient } from "mongodb";
import { collectionNames } from "../../../core/archive/collections.ts";
import { readJsonFile } from "../../../core/runtime/atomic_file.ts";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { closeWithin, createMongoClient } from "../../../core/mongo/client.ts";
import { describeError } from "../../../core/mongo/errors.ts";
import { CorruptTokenError, MongoTokenStore } from "../../../core/stream/token_store.ts";
import type { TokenFile, TokenRead } from "../checks/resume_token.ts";

/** Where the token is and how long the read may take. */
export interface ResumeTokenOptions {
  /** The configured token store. */
  tokenStore: "file" | "mongo";
  /** The token file as configured (shown in messages). */
  tokenFile: string;
  /** The token file resolved against the working folder (read). */
  tokenPath: string;
  /** The Mongo token store's collection. */
  tokenCollection: string;
  /** Time for the whole read, in ms. */
  budgetMs: number;
}

/**
 * Reads the saved resume token from the configured store.
 *
 * @param config The connection and collection settings (the watched namespace).
 * @param options The token store, file, collection and time budget.
 * @returns The token as read, nothing, something unusable, or why it could not be read.
 */
export function readResumeToken(
  config: GlobalConfig,
  options: ResumeTokenOptions,
): Promise<TokenRead> {
  return options.tokenStore === "mongo" ? _readMongo(config, options) : _readFile(options);
}

async function _readFile(options: ResumeTokenOptions): Promise<TokenRead> {
  const where = `token file ${options.tokenFile}`;
  try {
    const value = await readJsonFile(options.tokenPath);
    if (value === undefined) return { kind: "missing", where };
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { kind: "invalid", where, reason: "not a JSON object" };
    }
    return { kind: "found", where, value: value as TokenFile };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return { kind: "invalid", where, reason };
  }
}

async function _readMongo(config: GlobalConfig, options: ResumeTokenOptions): Promise<TokenRead> {
  const namespace = `${config.db}.${collectionNames(config).orders}`;
  const timeout = Math.max(100, Math.min(config.connectTimeout, options.budgetMs - 500));
  let client: MongoClient | undefined;
  let store: MongoTokenStore | undefined;
  const where = () =>
    store?.description ?? `token document "${namespace}" in ${options.tokenCollection}`;
  try {
    client = createMongoClient({ uri: config.uri, connectTimeout: timeout }, {
      connectTimeoutMS: timeout,
      socketTimeoutMS: timeout,
    });
    store = new MongoTokenStore(
      client.db(config.db).collection(options.tokenCollection),
      namespace,
    );
    const saved = await store.load();
    if (!saved) return { kind: "missing", where: where() };
    const savedAt = saved.savedAt.getTime();
    return {
      kind: "found",
      where: where(),
      value: {
        saved_at: Number.isNaN(savedAt) ? undefined : saved.savedAt.toISOString(),
        namespace: saved.namespace,
      },
    };
  } catch (error) {
    if (error instanceof CorruptTokenError) {
      // Its message starts with the document's description: say it once.
      const reason = error.message.startsWith(where())
        ? error.message.slice(where().length).trim()
        : error.message;
      return { kind: "invalid", where: where(), reason };
    }
    return { kind: "unreadable", where: where(), reason: describeError(error) };
  } finally {
    await closeWithin(client);
  }
}
