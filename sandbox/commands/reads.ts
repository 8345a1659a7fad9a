/**
 * Read commands: find, getMore, killCursors, count, distinct, aggregate (change streams
 * included).
 *
 * @module
 */

import { Long, Timestamp } from "bson";
import { type Doc, isPlainDoc, pathValues, valueKey } from "../bson_values.ts";
import {
  ChangeStream,
  type ChangeStreamScope,
  type ChangeStreamSpec,
} from "../engine/change_streams.ts";
import { DEFAULT_FIRST_BATCH, takeBatch } from "../engine/cursors.ts";
import { CommandError } from "../errors.ts";
import {
  evaluateLet,
  mingoOptions,
  projectDocuments,
  sortDocuments,
} from "../query/mingo_context.ts";
import { foldsStrings, foldStrings, parseCollation } from "../query/collation.ts";
import {
  findMatching,
  runPipeline,
  type RunPipelineOptions,
  validatePipeline,
} from "../query/pipeline.ts";
import type { Collection } from "../engine/collection.ts";
import { isOplogNamespace, oplogMatching } from "../engine/local_db.ts";
import { isView, resolveView } from "../engine/views.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import { startDeadline } from "../engine/max_time.ts";
import {
  docOption,
  documentCursorReply,
  existingCollection,
  intOption,
  rejectTransactions,
  targetCollection,
} from "./_shared.ts";

/** Runs a view's pipeline over its source, then the read's own stages. */
function _viewDocuments(
  ctx: CommandContext,
  view: Collection,
  stages: Doc[],
  run: RunPipelineOptions,
): Doc[] {
  const { collection, pipeline } = resolveView(ctx.state.storage, view);
  return runPipeline(ctx.state.storage, { db: ctx.db, collection }, [...pipeline, ...stages], {
    ...(run.variables ? { variables: run.variables } : {}),
    ...(run.collation ? { collation: run.collation } : {}),
  });
}

function _find(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const body = ctx.body;
  const name = targetCollection(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  const filter = docOption(body, "filter") ?? {};
  const sort = docOption(body, "sort");
  const projection = docOption(body, "projection");
  const skip = intOption(body, "skip") ?? 0;
  let limit = intOption(body, "limit") ?? 0;
  const batchSize = intOption(body, "batchSize");
  if (skip < 0) {
    throw new CommandError(
      51024,
      "BSON field 'skip' value must be >= 0, actual value '" + skip + "'",
    );
  }
  if (batchSize !== undefined && batchSize < 0) {
    throw new CommandError(
      51024,
      `BSON field 'batchSize' value must be >= 0, actual value '${batchSize}'`,
    );
  }
  let singleBatch = body.singleBatch === true;
  if (limit < 0) {
    limit = -limit;
    singleBatch = true;
  }
  const deadline = startDeadline(ctx);
  const variables = evaluateLet(docOption(body, "let"));
  const collation = parseCollation(body.collation);
  const options = mingoOptions(undefined, variables, collation);
  const oplog = isOplogNamespace(ctx.db, name);
  let docs = oplog
    ? oplogMatching(ctx.state.storage.oplog, filter, options)
    : collection && isView(collection)
    ? _viewDocuments(ctx, collection, [{ $match: filter }], { variables, collation })
    : findMatching(collection, filter, options);
  if (oplog && sort && "$natural" in sort) {
    if (Number(sort.$natural) < 0) docs = [...docs].reverse();
  } else if (sort && Object.keys(sort).length > 0) {
    docs = sortDocuments([...docs], sort, collation);
  }
  if (skip > 0 || limit > 0) docs = docs.slice(skip, limit > 0 ? skip + limit : undefined);
  if (projection) docs = projectDocuments(docs, projection, options);
  deadline?.check();
  return documentCursorReply(ctx, `${ctx.db}.${name}`, docs, {
    ...(batchSize !== undefined ? { batchSize } : {}),
    limit,
    singleBatch,
  });
}

async function _getMore(ctx: CommandContext): Promise<Doc> {
  const body = ctx.body;
  const id = body.getMore;
  const collection = body.collection;
  if (typeof collection !== "string") {
    throw new CommandError(
      40414,
      "BSON field 'getMore.collection' is missing but a required field",
    );
  }
  const cursor = ctx.state.cursors.require(id);
  const failure = ctx.state.failPoints.getMoreAfterCheckout();
  if (failure !== undefined) {
    throw new CommandError(
      failure,
      "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint",
    );
  }
  const expectedNs = cursor.ns.replace(/\.\$cmd\.\w+$/, ".$cmd.aggregate");
  if (cursor.ns !== `${ctx.db}.${collection}` && expectedNs !== `${ctx.db}.${collection}`) {
    if (!cursor.ns.startsWith(`${ctx.db}.$cmd`)) {
      throw new CommandError(
        13,
        `Requested getMore on namespace '${ctx.db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`,
      );
    }
  }
  const batchSize = intOption(body, "batchSize");
  const max = batchSize && batchSize > 0 ? batchSize : Infinity;
  if (cursor.changeStream) {
    const maxAwait = intOption(body, "maxTimeMS") ?? 1000;
    const batch = await cursor.changeStream.nextAwait(max, maxAwait, ctx.state.signal);
    let cursorId = cursor.id;
    if (batch.closed) {
      ctx.state.cursors.kill(id);
      cursorId = Long.fromNumber(0);
    }
    return {
      cursor: {
        nextBatch: batch.events,
        postBatchResumeToken: batch.postBatchResumeToken,
        id: cursorId,
        ns: cursor.ns,
      },
    };
  }
  const nextBatch = takeBatch(cursor.docs, cursor.pos, Math.min(max, cursor.remaining));
  cursor.pos += nextBatch.length;
  cursor.remaining -= nextBatch.length;
  let cursorId = cursor.id;
  if (cursor.pos >= cursor.docs.length || cursor.remaining <= 0) {
    ctx.state.cursors.kill(id);
    cursorId = Long.fromNumber(0);
  }
  return { cursor: { nextBatch, id: cursorId, ns: cursor.ns } };
}

function _killCursors(ctx: CommandContext): Doc {
  const ids = ctx.body.cursors;
  if (!Array.isArray(ids)) {
    throw new CommandError(
      40414,
      "BSON field 'killCursors.cursors' is missing but a required field",
    );
  }
  const cursorsKilled: unknown[] = [];
  const cursorsNotFound: unknown[] = [];
  for (const id of ids) (ctx.state.cursors.kill(id) ? cursorsKilled : cursorsNotFound).push(id);
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [] };
}

function _count(ctx: CommandContext): Doc {
  const body = ctx.body;
  const collection = existingCollection(ctx);
  const deadline = startDeadline(ctx);
  const query = docOption(body, "query") ?? {};
  const skip = intOption(body, "skip") ?? 0;
  const limit = Math.abs(intOption(body, "limit") ?? 0);
  const collation = parseCollation(body.collation);
  const options = mingoOptions(undefined, undefined, collation);
  let n = collection && isView(collection)
    ? _viewDocuments(ctx, collection, [{ $match: query }], { collation }).length
    : Object.keys(query).length === 0
    ? collection?.docs.size ?? 0
    : findMatching(collection, query, options).length;
  n = Math.max(0, n - skip);
  if (limit > 0) n = Math.min(n, limit);
  deadline?.check();
  return { n };
}

function _distinct(ctx: CommandContext): Doc {
  const body = ctx.body;
  const key = body.key;
  if (typeof key !== "string") {
    throw new CommandError(40414, "BSON field 'distinct.key' is missing but a required field");
  }
  const collation = parseCollation(body.collation);
  const options = mingoOptions(undefined, undefined, collation);
  const collection = existingCollection(ctx);
  const deadline = startDeadline(ctx);
  const query = docOption(body, "query") ?? {};
  const docs = collection && isView(collection)
    ? _viewDocuments(ctx, collection, [{ $match: query }], { collation })
    : findMatching(collection, query, options);
  const folds = foldsStrings(collation);
  const seen = new Set<string>();
  const values: unknown[] = [];
  for (const doc of docs) {
    for (const value of pathValues(doc, key)) {
      const k = valueKey(folds ? foldStrings(value, collation) : value);
      if (seen.has(k)) continue;
      seen.add(k);
      values.push(value);
    }
  }
  deadline?.check();
  return { values };
}

function _changeStreamScope(
  ctx: CommandContext,
  spec: ChangeStreamSpec,
): [ChangeStreamScope, string] {
  const target = ctx.body.aggregate;
  if (typeof target === "string") {
    targetCollection(ctx);
    return [{ db: ctx.db, coll: target }, `${ctx.db}.${target}`];
  }
  if (ctx.db === "admin") {
    if (spec.allChangesForCluster !== true) {
      throw new CommandError(
        73,
        "$changeStream may not be opened on the internal admin database",
      );
    }
    return [{}, "admin.$cmd.aggregate"];
  }
  if (spec.allChangesForCluster === true) {
    throw new CommandError(
      40415,
      "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name",
    );
  }
  return [{ db: ctx.db }, `${ctx.db}.$cmd.aggregate`];
}

function _aggregate(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const body = ctx.body;
  const requested = body.pipeline;
  validatePipeline(requested);
  let pipeline: Doc[] = requested;
  const last = requested.at(-1);
  const level = isPlainDoc(body.readConcern) ? body.readConcern.level : undefined;
  if (level === "linearizable" && last && ("$out" in last || "$merge" in last)) {
    const stage = "$out" in last ? "$out" : "$merge";
    throw new CommandError(72, `${stage} cannot be used with a 'linearizable' read concern level`);
  }
  if (body.explain === true) throw new CommandError(59, "explain is not supported by the sandbox");
  const cursorOption = docOption(body, "cursor");
  if (!cursorOption) {
    throw new CommandError(
      9,
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  const batchSize = intOption(cursorOption, "batchSize");
  const deadline = startDeadline(ctx);
  const first = pipeline[0];
  if (first && "$changeStream" in first) {
    if (!isPlainDoc(first.$changeStream)) {
      throw new CommandError(50808, "$changeStream stage expects a document as argument");
    }
    const spec = first.$changeStream as ChangeStreamSpec;
    const [scope, ns] = _changeStreamScope(ctx, spec);
    const { storage } = ctx.state;
    const startTime = storage.oplog.clock.now();
    const stream = new ChangeStream(storage, scope, spec, pipeline.slice(1));
    const batch = stream.next(batchSize ?? DEFAULT_FIRST_BATCH);
    const id = batch.closed
      ? Long.fromNumber(0)
      : ctx.state.cursors.openChangeStream(ns, stream).id;
    return {
      cursor: {
        firstBatch: batch.events,
        postBatchResumeToken: batch.postBatchResumeToken,
        id,
        ns,
      },
      operationTime: spec.startAtOperationTime instanceof Timestamp
        ? spec.startAtOperationTime
        : new Timestamp({ t: startTime.t, i: startTime.i + 1 }),
    };
  }
  let ns: string;
  let source;
  if (typeof body.aggregate === "string") {
    const name = targetCollection(ctx);
    ns = `${ctx.db}.${name}`;
    const collection = ctx.state.storage.collection(ctx.db, name);
    if (collection && isView(collection)) {
      const resolved = resolveView(ctx.state.storage, collection);
      source = { db: ctx.db, collection: resolved.collection };
      pipeline = [...resolved.pipeline, ...pipeline];
    } else {
      source = { db: ctx.db, collection };
    }
  } else if (body.aggregate === 1 && first && "$documents" in first) {
    ns = `${ctx.db}.$cmd.aggregate`;
    source = { db: ctx.db };
  } else if (body.aggregate === 1 && first && "$listLocalSessions" in first) {
    // Without authentication every session is the (empty) user's, so `users` and
    // `allUsers` select them all.
    ns = `${ctx.db}.$cmd.aggregate`;
    source = { db: ctx.db };
    pipeline = [{ $documents: { $literal: ctx.state.sessions.list() } }, ...pipeline.slice(1)];
  } else {
    throw new CommandError(
      73,
      "aggregate: 1 is only supported by the sandbox for $changeStream and $documents",
    );
  }
  const variables = evaluateLet(docOption(body, "let"));
  const collation = parseCollation(body.collation);
  const docs = runPipeline(ctx.state.storage, source, pipeline, {
    ...(variables ? { variables } : {}),
    ...(collation ? { collation } : {}),
  });
  deadline?.check();
  return documentCursorReply(ctx, ns, docs, batchSize !== undefined ? { batchSize } : {});
}

/** Read commands. */
export const READ_COMMANDS: Record<string, CommandHandler> = {
  find: _find,
  getMore: _getMore,
  killCursors: _killCursors,
  count: _count,
  distinct: _distinct,
  aggregate: _aggregate,
};
