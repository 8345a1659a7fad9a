/**
 * Diagnostic commands, in the shapes MongoDB 7.0 documents, with figures computed from the
 * sandbox's own data: `explain` (find, aggregate, count, distinct), `collStats` and the
 * `$collStats` stage, `$indexStats`, `dbStats`, `validate`, `$currentOp` / `currentOp`
 * (listing open change stream cursors), `getLog`. The `aggregate` entry wraps the read one to
 * answer `explain: true`, `$currentOp` and to remember which command opened a change stream.
 *
 * @module
 */

import { calculateObjectSize, Long } from "bson";
import { type Doc, isPlainDoc } from "../bson_values.ts";
import { optionsCollation, parseCollation } from "../query/collation.ts";
import type { Collection, QueryPlan } from "../engine/collection.ts";
import { CommandError } from "../errors.ts";
import { shellValue } from "../engine/indexes.ts";
import {
  compileFilter,
  mingoOptions,
  projectDocuments,
  sortDocuments,
} from "../query/mingo_context.ts";
import { runPipeline, validatePipeline } from "../query/pipeline.ts";
import type { CommandContext, CommandHandler, SandboxState } from "../engine/state.ts";
import { isView } from "../engine/views.ts";
import {
  isOplogNamespace,
  LOCAL_DB,
  OPLOG_COLLECTION,
  oplogStorageStats,
} from "../engine/local_db.ts";
import { SANDBOX_VERSION } from "./admin.ts";
import { docOption, intOption, targetCollection } from "./_shared.ts";
import { READ_COMMANDS } from "./reads.ts";

const _BSON = { ignoreUndefined: true };

/** Sizes of a collection computed from BSON sizes (the sandbox keeps no compressed pages). */
export interface CollectionSizes {
  /** Documents. */
  count: number;
  /** Sum of the documents' BSON sizes. */
  size: number;
  /** Bytes per index name: each entry's key and record id. */
  indexSizes: Record<string, number>;
  /** Index entries per index name. */
  keysPerIndex: Record<string, number>;
}

/**
 * Measures a collection.
 *
 * @param collection The collection.
 * @returns Its sizes.
 */
export function collectionSizes(collection: Collection | undefined): CollectionSizes {
  const out: CollectionSizes = { count: 0, size: 0, indexSizes: {}, keysPerIndex: {} };
  if (!collection || isView(collection)) return out;
  const indexes = [...collection.indexes.values()];
  out.indexSizes._id_ = 0;
  out.keysPerIndex._id_ = 0;
  for (const index of indexes) {
    out.indexSizes[index.spec.name] = 0;
    out.keysPerIndex[index.spec.name] = 0;
  }
  for (const doc of collection.docs.values()) {
    out.count++;
    out.size += calculateObjectSize(doc, _BSON);
    // An index entry: the key (as a BSON document of its values) and an 8-byte record id.
    out.indexSizes._id_! += calculateObjectSize({ "": doc._id }, _BSON) + 8;
    out.keysPerIndex._id_!++;
    for (const index of indexes) {
      for (const key of index.keysOf(doc)) {
        const entry = Object.fromEntries(key.values.map((v, i) => [String(i), v ?? null]));
        out.indexSizes[index.spec.name]! += calculateObjectSize(entry, _BSON) + 8;
        out.keysPerIndex[index.spec.name]!++;
      }
    }
  }
  return out;
}

function _scale(body: Doc): number {
  const scale = intOption(body, "scale") ?? 1;
  if (scale < 1) throw new CommandError(2, "scale has to be > 0");
  return scale;
}

function _storageStats(collection: Collection | undefined, scale: number): Doc {
  const sizes = collectionSizes(collection);
  const totalIndexSize = Object.values(sizes.indexSizes).reduce((a, b) => a + b, 0);
  const indexSizes: Doc = {};
  for (const [name, size] of Object.entries(sizes.indexSizes)) {
    indexSizes[name] = Math.floor(size / scale);
  }
  const exists = collection !== undefined && !isView(collection);
  return {
    size: Math.floor(sizes.size / scale),
    count: sizes.count,
    ...(sizes.count > 0 ? { avgObjSize: Math.floor(sizes.size / sizes.count) } : {}),
    numOrphanDocs: 0,
    storageSize: Math.floor(sizes.size / scale),
    freeStorageSize: 0,
    capped: collection?.options.capped === true,
    nindexes: exists ? collection.indexes.size + 1 : 0,
    indexDetails: {},
    indexBuilds: [],
    totalIndexSize: Math.floor(totalIndexSize / scale),
    totalSize: Math.floor((sizes.size + totalIndexSize) / scale),
    indexSizes,
    scaleFactor: scale,
  };
}

function _collStats(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  if (isOplogNamespace(ctx.db, name)) return _oplogStats(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  return { ns: `${ctx.db}.${name}`, ..._storageStats(collection, _scale(ctx.body)) };
}

/** `local.oplog.rs`'s stats as a capped collection (see local_db.ts). */
function _oplogStats(ctx: CommandContext): Doc {
  const stats = oplogStorageStats(ctx.state.storage.oplog, _scale(ctx.body));
  return { ns: `${LOCAL_DB}.${OPLOG_COLLECTION}`, ...stats };
}

function _dbStats(ctx: CommandContext): Doc {
  const scale = _scale(ctx.body);
  const collections = [...(ctx.state.storage.databases.get(ctx.db)?.values() ?? [])];
  let objects = 0, dataSize = 0, indexes = 0, indexSize = 0, views = 0, count = 0;
  for (const collection of collections) {
    if (isView(collection)) {
      views++;
      continue;
    }
    count++;
    const sizes = collectionSizes(collection);
    objects += sizes.count;
    dataSize += sizes.size;
    indexes += collection.indexes.size + 1;
    indexSize += Object.values(sizes.indexSizes).reduce((a, b) => a + b, 0);
  }
  return {
    db: ctx.db,
    collections: count,
    views,
    objects,
    avgObjSize: objects > 0 ? dataSize / objects : 0,
    dataSize: dataSize / scale,
    storageSize: dataSize / scale,
    indexes,
    indexSize: indexSize / scale,
    totalSize: (dataSize + indexSize) / scale,
    scaleFactor: scale,
  };
}

function _validate(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const ns = `${ctx.db}.${name}`;
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (!collection) {
    throw new CommandError(26, `Collection '${ns}' does not exist to validate.`);
  }
  if (isView(collection)) throw new CommandError(166, "Cannot validate a view");
  const sizes = collectionSizes(collection);
  const errors: string[] = [];
  const warnings: string[] = [];
  const indexDetails: Doc = { _id_: { valid: true } };
  // Each index's stored entries must be exactly the keys its documents have.
  for (const index of collection.indexes.values()) {
    let stored = 0;
    for (const holders of index.entries.values()) stored += holders.size;
    const valid = stored === sizes.keysPerIndex[index.spec.name];
    if (!valid) {
      errors.push(
        `index ${index.spec.name} has ${stored} entries, its documents ${
          sizes.keysPerIndex[index.spec.name]
        } keys`,
      );
    }
    indexDetails[index.spec.name] = { valid };
  }
  let nonCompliant = 0;
  const validator = collection.options.validator;
  if (isPlainDoc(validator)) {
    const test = compileFilter(validator);
    for (const doc of collection.docs.values()) if (!test(doc)) nonCompliant++;
    if (nonCompliant > 0) {
      warnings.push(`Detected one or more documents not compliant with the collection's schema.`);
    }
  }
  return {
    ns,
    uuid: collection.uuid,
    nInvalidDocuments: 0,
    nNonCompliantDocuments: nonCompliant,
    nrecords: sizes.count,
    nIndexes: collection.indexes.size + 1,
    keysPerIndex: sizes.keysPerIndex,
    indexDetails,
    valid: errors.length === 0,
    repaired: false,
    warnings,
    errors,
    extraIndexEntries: [],
    missingIndexEntries: [],
    corruptRecords: [],
  };
}

/** `$indexStats` output for a collection. */
export function indexStats(state: SandboxState, collection: Collection | undefined): Doc[] {
  if (!collection) return [];
  if (isView(collection)) {
    throw new CommandError(166, `Namespace ${collection.ns} is a view, not a collection`);
  }
  const all = [
    { spec: collection.indexSpecs()[0]!, accesses: collection.idAccesses },
    ...[...collection.indexes.values()].map((index) => ({
      spec: index.spec,
      accesses: index.accesses,
    })),
  ];
  return all.map(({ spec, accesses }) => ({
    name: spec.name,
    key: spec.key,
    host: state.me,
    accesses: { ops: Long.fromNumber(accesses.ops), since: accesses.since },
    spec,
  }));
}

/** `$collStats` output for a collection. */
function _collStatsStage(ctx: CommandContext, collection: Collection | undefined, spec: Doc): Doc {
  const ns = collection?.ns ?? `${ctx.db}.${String(ctx.body.aggregate)}`;
  const out: Doc = { ns, host: ctx.state.me, localTime: new Date() };
  const oplog = isOplogNamespace(ctx.db, ctx.body.aggregate) ? ctx.state.storage.oplog : undefined;
  if (isPlainDoc(spec.storageStats)) {
    const scale = intOption(spec.storageStats, "scale") ?? 1;
    if (scale < 1) throw new CommandError(2, "scale has to be > 0");
    out.storageStats = oplog ? oplogStorageStats(oplog, scale) : _storageStats(collection, scale);
  }
  if (isPlainDoc(spec.count)) {
    out.count = oplog ? oplogStorageStats(oplog).count : collectionSizes(collection).count;
  }
  if (isPlainDoc(spec.latencyStats)) {
    const zero = { latency: Long.fromNumber(0), ops: Long.fromNumber(0) };
    out.latencyStats = { reads: zero, writes: zero, commands: zero, transactions: zero };
  }
  if (isPlainDoc(spec.queryExecStats)) {
    out.queryExecStats = { collectionScans: { total: Long.fromNumber(0) } };
  }
  return out;
}

// ---- $currentOp ----------------------------------------------------------------------------

let _nextOpId = 1;

function _ops(ctx: CommandContext): Doc[] {
  const now = Date.now();
  const ops: Doc[] = [{
    type: "op",
    host: ctx.state.me,
    desc: `conn${ctx.connection.id}`,
    connectionId: ctx.connection.id,
    client: ctx.connection.remote,
    ...(ctx.connection.appName ? { appName: ctx.connection.appName } : {}),
    active: true,
    currentOpTime: new Date(now).toISOString(),
    opid: _nextOpId++,
    secs_running: Long.fromNumber(0),
    microsecs_running: Long.fromNumber(0),
    op: "command",
    ns: `${ctx.db}.$cmd.aggregate`,
    command: ctx.body,
    numYields: 0,
    locks: {},
    waitingForLock: false,
    lockStats: {},
  }];
  for (const cursor of ctx.state.cursors.changeStreams()) {
    const coll = cursor.ns.slice(cursor.ns.indexOf(".") + 1);
    const command = cursor.originatingCommand ?? { aggregate: coll, pipeline: [] };
    const running = now - cursor.createdDate.getTime();
    ops.push({
      type: "op",
      host: ctx.state.me,
      ...(cursor.connection
        ? {
          desc: `conn${cursor.connection.id}`,
          connectionId: cursor.connection.id,
          client: cursor.connection.remote,
          ...(cursor.connection.appName ? { appName: cursor.connection.appName } : {}),
        }
        : {}),
      active: true,
      currentOpTime: new Date(now).toISOString(),
      opid: _nextOpId++,
      secs_running: Long.fromNumber(Math.floor(running / 1000)),
      microsecs_running: Long.fromNumber(running * 1000),
      op: "getmore",
      ns: cursor.ns,
      command,
      planSummary: "COLLSCAN",
      cursor: {
        cursorId: cursor.id,
        createdDate: cursor.createdDate,
        lastAccessDate: new Date(cursor.lastUsed),
        noCursorTimeout: false,
        tailable: true,
        awaitData: true,
        originatingCommand: command,
        planSummary: "COLLSCAN",
      },
      numYields: 0,
      locks: {},
      waitingForLock: false,
      lockStats: {},
    });
  }
  return ops;
}

function _currentOpCommand(ctx: CommandContext): Doc {
  if (ctx.db !== "admin") {
    throw new CommandError(13, "currentOp may only be run against the admin database.");
  }
  const filter: Doc = {};
  for (const [key, value] of Object.entries(ctx.body)) {
    if (key === "currentOp" || key.startsWith("$") || key === "lsid") continue;
    filter[key] = value;
  }
  const test = compileFilter(filter);
  return { inprog: _ops(ctx).filter(test) };
}

// ---- explain ---------------------------------------------------------------------------------

interface _Layer {
  stage: Doc;
  nReturned: number;
  exec?: Doc;
}

function _tree(layers: _Layer[], withStats: boolean, ms: number): Doc | undefined {
  let tree: Doc | undefined;
  for (const layer of layers) {
    const node: Doc = { ...layer.stage };
    if (withStats) {
      Object.assign(node, {
        nReturned: layer.nReturned,
        executionTimeMillisEstimate: ms,
        ...layer.exec,
      });
    }
    if (tree) node.inputStage = tree;
    tree = node;
  }
  return tree;
}

interface _FindResult {
  layers: _Layer[];
  docs: Doc[];
  keysExamined: number;
  docsExamined: number;
  ms: number;
}

function _runFind(collection: Collection | undefined, spec: Doc, record: boolean): _FindResult {
  const started = performance.now();
  const filter = docOption(spec, "filter") ?? {};
  const sort = docOption(spec, "sort");
  const projection = docOption(spec, "projection");
  const skip = intOption(spec, "skip") ?? 0;
  const limit = Math.abs(intOption(spec, "limit") ?? 0);
  const collation = parseCollation(spec.collation);
  const options = mingoOptions(undefined, undefined, collation);
  const layers: _Layer[] = [];
  let docs: Doc[];
  let keysExamined = 0, docsExamined = 0;
  if (!collection) {
    compileFilter(filter, options);
    docs = [];
    layers.push({ stage: { stage: "EOF" }, nReturned: 0 });
  } else {
    const plan: QueryPlan = optionsCollation(options) || Object.keys(filter).length === 0
      ? { docs: collection.all(), exact: Object.keys(filter).length === 0, keysExamined: 0 }
      : collection.plan(filter, { record });
    const predicate = compileFilter(filter, options);
    docs = plan.exact ? plan.docs : plan.docs.filter(predicate);
    docsExamined = plan.docs.length;
    keysExamined = plan.keysExamined;
    if (plan.index === undefined) {
      layers.push({
        stage: {
          stage: "COLLSCAN",
          ...(Object.keys(filter).length > 0 ? { filter } : {}),
          direction: "forward",
        },
        nReturned: docs.length,
        exec: {
          works: plan.docs.length + 1,
          advanced: docs.length,
          needTime: plan.docs.length - docs.length + 1,
          needYield: 0,
          saveState: 0,
          restoreState: 0,
          isEOF: 1,
          docsExamined: plan.docs.length,
        },
      });
    } else if (plan.index === "_id_" && plan.exact && plan.indexValues?.length === 1) {
      layers.push({
        stage: { stage: "IDHACK" },
        nReturned: docs.length,
        exec: { keysExamined, docsExamined, works: keysExamined + 1, advanced: docs.length },
      });
    } else {
      const index = plan.index === "_id_" ? undefined : collection.indexes.get(plan.index);
      const field = plan.indexField!;
      const key = index?.spec.key ?? { _id: 1 };
      const bounds = [...(plan.indexValues ?? [])].map((v) =>
        `[${shellValue(v)}, ${shellValue(v)}]`
      );
      layers.push({
        stage: {
          stage: "IXSCAN",
          keyPattern: key,
          indexName: plan.index,
          isMultiKey: false,
          multiKeyPaths: { [field]: [] },
          isUnique: plan.index === "_id_" || index?.unique === true,
          isSparse: index?.spec.sparse === true,
          isPartial: false,
          indexVersion: 2,
          direction: "forward",
          indexBounds: { [field]: bounds },
        },
        nReturned: plan.docs.length,
        exec: { keysExamined, seeks: bounds.length, dupsTested: 0, dupsDropped: 0 },
      });
      layers.push({
        stage: { stage: "FETCH", ...(plan.exact ? {} : { filter }) },
        nReturned: docs.length,
        exec: { docsExamined, alreadyHasObj: 0 },
      });
    }
  }
  if (sort && Object.keys(sort).length > 0) {
    docs = sortDocuments([...docs], sort, collation);
    const limitAmount = limit > 0 ? skip + limit : undefined;
    if (limitAmount !== undefined) docs = docs.slice(0, limitAmount);
    layers.push({
      stage: {
        stage: "SORT",
        sortPattern: sort,
        memLimit: 104_857_600,
        ...(limitAmount !== undefined ? { limitAmount } : {}),
        type: "simple",
      },
      nReturned: docs.length,
      exec: { totalDataSizeSorted: docs.reduce((n, d) => n + calculateObjectSize(d, _BSON), 0) },
    });
  }
  if (skip > 0) {
    docs = docs.slice(skip);
    layers.push({ stage: { stage: "SKIP", skipAmount: skip }, nReturned: docs.length });
  }
  if (limit > 0 && !(sort && Object.keys(sort).length > 0)) {
    docs = docs.slice(0, limit);
    layers.push({ stage: { stage: "LIMIT", limitAmount: limit }, nReturned: docs.length });
  }
  if (projection && Object.keys(projection).length > 0) {
    docs = projectDocuments(docs, projection, options);
    layers.push({
      stage: { stage: "PROJECTION_DEFAULT", transformBy: projection },
      nReturned: docs.length,
    });
  }
  return { layers, docs, keysExamined, docsExamined, ms: performance.now() - started };
}

function _hash(value: unknown): string {
  const text = JSON.stringify(value) ?? "";
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, "0");
}

function _planner(ns: string, filter: Doc, result: _FindResult): Doc {
  return {
    namespace: ns,
    indexFilterSet: false,
    parsedQuery: filter,
    queryHash: _hash(filter),
    planCacheKey: _hash([ns, filter]),
    maxIndexedOrSolutionsReached: false,
    maxIndexedAndSolutionsReached: false,
    maxScansToExplodeReached: false,
    winningPlan: _tree(result.layers, false, 0),
    rejectedPlans: [],
  };
}

function _executionStats(result: _FindResult, verbosity: string): Doc {
  const ms = Math.round(result.ms);
  return {
    executionSuccess: true,
    nReturned: result.docs.length,
    executionTimeMillis: ms,
    totalKeysExamined: result.keysExamined,
    totalDocsExamined: result.docsExamined,
    executionStages: _tree(result.layers, true, ms),
    ...(verbosity === "allPlansExecution" ? { allPlansExecution: [] } : {}),
  };
}

function _envelope(ctx: CommandContext, inner: Doc): Doc {
  const [host, port] = ctx.state.me.split(":");
  return {
    command: { ...inner, $db: ctx.db },
    serverInfo: {
      host,
      port: Number(port),
      version: SANDBOX_VERSION,
      gitVersion: "archiver-sandbox",
    },
    serverParameters: {
      internalQueryFacetBufferSizeBytes: 104_857_600,
      internalQueryFacetMaxOutputDocSizeBytes: 104_857_600,
      internalLookupStageIntermediateDocumentMaxSizeBytes: 104_857_600,
      internalDocumentSourceGroupMaxMemoryBytes: 104_857_600,
      internalQueryMaxBlockingSortMemoryUsageBytes: 104_857_600,
      internalQueryProhibitBlockingMergeOnMongoS: 0,
      internalQueryMaxAddToSetBytes: 104_857_600,
      internalDocumentSourceSetWindowFieldsMaxMemoryBytes: 104_857_600,
      internalQueryFrameworkControl: "trySbeRestricted",
    },
  };
}

function _explainFind(ctx: CommandContext, inner: Doc, verbosity: string): Doc {
  const name = inner[Object.keys(inner)[0]!];
  if (typeof name !== "string") throw new CommandError(2, "collection name must be a string");
  const ns = `${ctx.db}.${name}`;
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (collection && isView(collection)) {
    throw new CommandError(59, "explain on a view is not supported by the sandbox");
  }
  const command = Object.keys(inner)[0]!;
  const spec: Doc = command === "count"
    ? { filter: inner.query ?? {}, skip: inner.skip, limit: inner.limit }
    : command === "distinct"
    ? { filter: inner.query ?? {} }
    : inner;
  const result = _runFind(collection, spec, verbosity !== "queryPlanner");
  if (command === "count") {
    result.layers.push({ stage: { stage: "COUNT" }, nReturned: 0 });
  }
  const filter = docOption(spec, "filter") ?? {};
  return {
    explainVersion: "1",
    queryPlanner: _planner(ns, filter, result),
    ...(verbosity !== "queryPlanner" ? { executionStats: _executionStats(result, verbosity) } : {}),
    ..._envelope(ctx, inner),
  };
}

function _explainAggregate(ctx: CommandContext, inner: Doc, verbosity: string): Doc {
  const pipeline = inner.pipeline;
  validatePipeline(pipeline);
  const name = inner.aggregate;
  if (typeof name !== "string") {
    throw new CommandError(59, "explain of aggregate: 1 is not supported by the sandbox");
  }
  const ns = `${ctx.db}.${name}`;
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (collection && isView(collection)) {
    throw new CommandError(59, "explain on a view is not supported by the sandbox");
  }
  if (pipeline.some((stage) => "$changeStream" in stage)) {
    throw new CommandError(59, "explain of a change stream is not supported by the sandbox");
  }
  const first = pipeline[0];
  const match = first && isPlainDoc(first.$match) ? first.$match : {};
  const rest = first && isPlainDoc(first.$match) ? pipeline.slice(1) : pipeline;
  const stats = verbosity !== "queryPlanner";
  const result = _runFind(collection, { filter: match }, stats);
  if (rest.length === 0) {
    return {
      explainVersion: "1",
      queryPlanner: _planner(ns, match, result),
      ...(stats ? { executionStats: _executionStats(result, verbosity) } : {}),
      ..._envelope(ctx, inner),
    };
  }
  const stages: Doc[] = [{
    $cursor: {
      queryPlanner: _planner(ns, match, result),
      ...(stats ? { executionStats: _executionStats(result, verbosity) } : {}),
    },
    ...(stats
      ? {
        nReturned: Long.fromNumber(result.docs.length),
        executionTimeMillisEstimate: Long.fromNumber(Math.round(result.ms)),
      }
      : {}),
  }];
  let docs = result.docs;
  for (const stage of rest) {
    const started = performance.now();
    // $out and $merge are described, not run: an explain writes nothing.
    const writes = "$out" in stage || "$merge" in stage;
    if (stats && !writes) {
      docs = runPipeline(ctx.state.storage, { db: ctx.db }, [
        { $documents: { $literal: docs } },
        stage,
      ]);
    } else if (writes) {
      docs = [];
    }
    stages.push({
      ...stage,
      ...(stats
        ? {
          nReturned: Long.fromNumber(docs.length),
          executionTimeMillisEstimate: Long.fromNumber(Math.round(performance.now() - started)),
        }
        : {}),
    });
  }
  return { explainVersion: "1", stages, ..._envelope(ctx, inner) };
}

const _VERBOSITIES = new Set(["queryPlanner", "executionStats", "allPlansExecution"]);

function _explain(ctx: CommandContext): Doc {
  const inner = docOption(ctx.body, "explain");
  if (!inner) throw new CommandError(2, "explain command requires a nested object");
  const verbosity = ctx.body.verbosity ?? "allPlansExecution";
  if (typeof verbosity !== "string" || !_VERBOSITIES.has(verbosity)) {
    throw new CommandError(
      2,
      `verbosity string must be one of {'queryPlanner', 'executionStats', 'allPlansExecution'}`,
    );
  }
  const command = Object.keys(inner)[0];
  if (command === "find" || command === "count" || command === "distinct") {
    return _explainFind(ctx, inner, verbosity);
  }
  if (command === "aggregate") return _explainAggregate(ctx, inner, verbosity);
  throw new CommandError(59, `explain of '${command}' is not supported by the sandbox`);
}

// ---- aggregate wrapper -------------------------------------------------------------------------

async function _aggregate(ctx: CommandContext): Promise<Doc> {
  const body = ctx.body;
  const pipeline = body.pipeline;
  if (body.explain === true) {
    const { explain: _e, cursor: _c, ...inner } = body;
    return _explainAggregate(ctx, inner, "queryPlanner");
  }
  if (Array.isArray(pipeline) && isPlainDoc(pipeline[0])) {
    const first = pipeline[0];
    if ("$currentOp" in first) {
      if (ctx.db !== "admin" || body.aggregate !== 1) {
        throw new CommandError(
          73,
          "$currentOp must be run against the 'admin' database with {aggregate: 1}",
        );
      }
      const ops = _ops(ctx);
      return await READ_COMMANDS.aggregate!({
        ...ctx,
        body: { ...body, pipeline: [{ $documents: { $literal: ops } }, ...pipeline.slice(1)] },
      });
    }
    const stats = "$indexStats" in first
      ? "$indexStats"
      : "$collStats" in first
      ? "$collStats"
      : "";
    if (stats !== "" && typeof body.aggregate === "string") {
      validatePipeline(pipeline);
      const collection = ctx.state.storage.collection(ctx.db, targetCollection(ctx));
      const docs = stats === "$indexStats"
        ? indexStats(ctx.state, collection)
        : [_collStatsStage(ctx, collection, isPlainDoc(first.$collStats) ? first.$collStats : {})];
      const reply = await READ_COMMANDS.aggregate!({
        ...ctx,
        body: {
          ...body,
          aggregate: 1,
          pipeline: [{ $documents: { $literal: docs } }, ...pipeline.slice(1)],
        },
      });
      return _renamed(reply, `${ctx.db}.${body.aggregate}`);
    }
  }
  const reply = await READ_COMMANDS.aggregate!(ctx);
  if (Array.isArray(pipeline) && isPlainDoc(pipeline[0]) && "$changeStream" in pipeline[0]) {
    const id = isPlainDoc(reply.cursor) ? reply.cursor.id : undefined;
    const cursor = id === undefined ? undefined : ctx.state.cursors.get(id);
    if (cursor?.changeStream) {
      const { lsid: _l, $clusterTime: _t, $db: _d, ...command } = body;
      cursor.originatingCommand = command;
      cursor.connection = {
        id: ctx.connection.id,
        remote: ctx.connection.remote,
        ...(ctx.connection.appName ? { appName: ctx.connection.appName } : {}),
      };
    }
  }
  return reply;
}

/** Reports the collection's namespace on a reply computed as `aggregate: 1`. */
function _renamed(reply: Doc, ns: string): Doc {
  if (isPlainDoc(reply.cursor)) reply.cursor.ns = ns;
  return reply;
}

/** Diagnostic commands (and the `aggregate` wrapper). */
export const DIAGNOSTIC_COMMANDS: Record<string, CommandHandler> = {
  explain: _explain,
  collStats: _collStats,
  dbStats: _dbStats,
  dbstats: _dbStats,
  validate: _validate,
  currentOp: _currentOpCommand,
  aggregate: _aggregate,
  getLog: (ctx) => {
    const which = ctx.body.getLog;
    if (which === "*") return { names: ["global", "startupWarnings"] };
    return { totalLinesWritten: 0, log: [] };
  },
};
