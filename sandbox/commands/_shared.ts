/**
 * Helpers the command implementations share: option parsing, write error entries, cursor
 * replies.
 *
 * @module
 */

import { Long } from "bson";
import { type Doc, isPlainDoc, numericValue } from "../bson_values.ts";
import type { Collection } from "../engine/collection.ts";
import { DEFAULT_FIRST_BATCH, takeBatch } from "../engine/cursors.ts";
import { asCommandError, CommandError } from "../errors.ts";
import type { CommandContext } from "../engine/state.ts";
import { validateCollectionName } from "../engine/storage.ts";

/** Fields any command may carry (sessions, retryable writes, API versioning, cluster time). */
export const GENERIC_FIELDS: ReadonlySet<string> = new Set([
  "$db",
  "lsid",
  "txnNumber",
  "$clusterTime",
  "$readPreference",
  "readConcern",
  "writeConcern",
  "apiVersion",
  "apiStrict",
  "apiDeprecationErrors",
  "maxTimeMS",
  "comment",
  "autocommit",
  "startTransaction",
]);

/**
 * Reads the collection name a command targets (the value of its first field).
 *
 * @param ctx The command context.
 * @returns The collection name.
 */
export function targetCollection(ctx: CommandContext): string {
  const name = ctx.body[ctx.name];
  validateCollectionName(ctx.db, name);
  return name;
}

/**
 * Returns the collection a read targets, if it exists.
 *
 * @param ctx The command context.
 * @returns The collection.
 */
export function existingCollection(ctx: CommandContext): Collection | undefined {
  return ctx.state.storage.collection(ctx.db, targetCollection(ctx));
}

/**
 * Reads an optional non-negative integer option.
 *
 * @param body The command.
 * @param field The option.
 * @returns The number, or `undefined` when absent.
 */
export function intOption(body: Doc, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const n = numericValue(value);
  if (n === undefined || !Number.isFinite(n)) {
    throw new CommandError(
      14,
      `BSON field '${field}' is the wrong type '${typeof value}', expected types '[long, int, decimal, double]'`,
    );
  }
  return Math.trunc(n);
}

/**
 * Reads an optional document option.
 *
 * @param body The command.
 * @param field The option.
 * @returns The document, or `undefined` when absent.
 */
export function docOption(body: Doc, field: string): Doc | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isPlainDoc(value)) {
    throw new CommandError(14, `BSON field '${field}' is the wrong type, expected type 'object'`);
  }
  return value;
}

/**
 * Turns an error thrown by one write statement into a `writeErrors` entry.
 *
 * @param index The statement's index in the batch.
 * @param error What was thrown.
 * @returns The entry.
 */
export function writeError(index: number, error: unknown): Doc {
  const e = asCommandError(error);
  return { index, code: e.code, errmsg: e.message, ...e.extra };
}

/**
 * Rejects multi-document transactions, which the sandbox does not implement.
 *
 * @param body The command.
 */
export function rejectTransactions(body: Doc): void {
  if (body.startTransaction === true || body.autocommit === false) {
    throw new CommandError(20, "Transactions are not supported by the sandbox");
  }
}

/** Options of {@link documentCursorReply}. */
export interface CursorReplyOptions {
  /** First batch size requested. */
  batchSize?: number;
  /** Most documents the cursor may return overall (0 = no limit). */
  limit?: number;
  /** Close the cursor after the first batch. */
  singleBatch?: boolean;
}

/**
 * Builds a cursor reply for a computed result set, opening a cursor when documents remain.
 *
 * @param ctx The command context.
 * @param ns The namespace reported.
 * @param docs The result set.
 * @param options Batch size, limit, single batch.
 * @returns The reply.
 */
export function documentCursorReply(
  ctx: CommandContext,
  ns: string,
  docs: Doc[],
  options: CursorReplyOptions = {},
): Doc {
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  const max = Math.min(options.batchSize ?? DEFAULT_FIRST_BATCH, limit);
  const firstBatch = takeBatch(docs, 0, max);
  const remaining = limit - firstBatch.length;
  let id = Long.fromNumber(0);
  if (!options.singleBatch && firstBatch.length < docs.length && remaining > 0) {
    id = ctx.state.cursors.openDocuments(ns, docs, firstBatch.length, remaining).id;
  }
  return { cursor: { firstBatch, id, ns } };
}
