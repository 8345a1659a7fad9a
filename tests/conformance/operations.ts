/**
 * Entity operations of the unified test format (CRUD, change streams, database commands), run
 * through the official driver, with driver results converted to the documents the format expects.
 *
 * @module
 */

import type {
  AnyBulkWriteOperation,
  BulkWriteResult,
  ChangeStream,
  ClientBulkWriteModel,
  ClientBulkWriteResult,
  ClientSession,
  Collection,
  Db,
  Document,
  MongoClient,
} from "mongodb";
import { type EntityMap, sessionInternals, toCommonOptions } from "./entities.ts";

/** How an operation's result is matched against `expectResult` */
export interface OperationOutcome {
  /** The result, converted to a document, array or scalar */
  result: unknown;
  /** Whether the result (or, for arrays, each element) is a root-level document */
  root: boolean;
  /** An entity to store when `saveResultAsEntity` is given */
  entity?: Parameters<EntityMap["set"]>[1];
}

/** Options of {@linkcode runEntityOperation} */
export interface EntityOperationOptions {
  /**
   * How long iterating a change stream may wait for a document before the operation fails
   * @default 10000
   */
  iterationTimeoutMS?: number;
}

/** An error for an operation or argument the runner does not implement */
export class UnsupportedOperationError extends Error {
  /** @param message what is not supported */
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedOperationError";
  }
}

/**
 * Runs one entity operation (`operation.object` names an entity).
 *
 * @param entities the test's entity map
 * @param operation the operation from the test file
 * @param options iteration limits
 * @returns the converted result
 * @throws whatever the driver throws: the caller checks it against `expectError`
 */
export async function runEntityOperation(
  entities: EntityMap,
  operation: Document,
  options: EntityOperationOptions = {},
): Promise<OperationOutcome> {
  const name = operation.name as string;
  const target = entities.any(operation.object as string);
  const args = _resolveArguments(entities, (operation.arguments ?? {}) as Document);

  switch (target.kind) {
    case "collection":
      return await _collectionOperation(target.collection, name, args);
    case "database":
      return await _databaseOperation(target.db, name, args);
    case "client":
      return await _clientOperation(target.client, name, args);
    case "changeStream":
      return await _changeStreamOperation(target.stream, name, options.iterationTimeoutMS ?? 10000);
    case "cursor":
      if (name === "iterateUntilDocumentOrError" || name === "iterateOnce") {
        return { result: await target.cursor.next(), root: true };
      }
      if (name === "close") {
        await target.cursor.close().catch(() => undefined);
        return { result: undefined, root: false };
      }
      break;
    case "session":
      return await _sessionOperation(target.session, name, args);
  }
  throw new UnsupportedOperationError(`Unsupported operation "${name}" on a ${target.kind}`);
}

async function _sessionOperation(
  session: ClientSession,
  name: string,
  args: Document,
): Promise<OperationOutcome> {
  switch (name) {
    case "endSession":
      await session.endSession();
      return { result: undefined, root: false };
    case "startTransaction":
      session.startTransaction(args);
      return { result: undefined, root: false };
    case "commitTransaction":
      await session.commitTransaction();
      return { result: undefined, root: false };
    case "abortTransaction":
      await session.abortTransaction();
      return { result: undefined, root: false };
    case "getSnapshotTime":
      // The time the session's first snapshot read answered (`atClusterTime`).
      return { result: sessionInternals(session).snapshotTime ?? null, root: false };
  }
  throw new UnsupportedOperationError(`Unsupported operation "${name}" on a session`);
}

function _resolveArguments(entities: EntityMap, args: Document): Document {
  const resolved = toCommonOptions(args);
  if (typeof args.session === "string") {
    resolved.session = entities.get(args.session, "session").session;
  }
  return resolved;
}

async function _collectionOperation(
  collection: Collection,
  name: string,
  args: Document,
): Promise<OperationOutcome> {
  switch (name) {
    case "insertOne": {
      const { document, ...opts } = args;
      const result = await collection.insertOne(document, _idOptions([document], opts));
      return { result: { insertedId: result.insertedId }, root: true };
    }
    case "insertMany": {
      const { documents, ...opts } = args;
      const result = await collection.insertMany(documents, _idOptions(documents, opts));
      return {
        result: { insertedCount: result.insertedCount, insertedIds: result.insertedIds },
        root: true,
      };
    }
    case "updateOne":
    case "updateMany":
    case "replaceOne": {
      const { filter, update, replacement, ...opts } = args;
      const result = name === "replaceOne"
        ? await collection.replaceOne(filter, replacement, opts)
        : name === "updateOne"
        ? await collection.updateOne(filter, update, opts)
        : await collection.updateMany(filter, update, opts);
      return { result: updateResultToDocument(result), root: true };
    }
    case "deleteOne":
    case "deleteMany": {
      const { filter, ...opts } = args;
      const result = name === "deleteOne"
        ? await collection.deleteOne(filter, opts)
        : await collection.deleteMany(filter, opts);
      return { result: { deletedCount: result.deletedCount }, root: true };
    }
    case "bulkWrite": {
      const { requests, ...opts } = args;
      const models = requests as AnyBulkWriteOperation[];
      const documents = models.flatMap((m) => "insertOne" in m ? [m.insertOne.document] : []);
      const result = await collection.bulkWrite(models, _idOptions(documents, opts));
      return { result: bulkWriteResultToDocument(result), root: true };
    }
    case "find": {
      const { filter, ...opts } = args;
      return { result: await collection.find(filter ?? {}, opts).toArray(), root: true };
    }
    case "findOne": {
      const { filter, ...opts } = args;
      return { result: await collection.findOne(filter ?? {}, opts), root: true };
    }
    case "createFindCursor": {
      const { filter, ...opts } = args;
      const cursor = collection.find(filter ?? {}, opts);
      // Runs the find command without consuming a document.
      await cursor.hasNext();
      return { result: undefined, root: false, entity: { kind: "cursor", cursor } };
    }
    case "aggregate": {
      const { pipeline, ...opts } = args;
      return { result: await collection.aggregate(pipeline, opts).toArray(), root: true };
    }
    case "countDocuments": {
      const { filter, ...opts } = args;
      return { result: await collection.countDocuments(filter ?? {}, opts), root: false };
    }
    case "estimatedDocumentCount":
      return { result: await collection.estimatedDocumentCount(args), root: false };
    case "count": {
      const { filter, ...opts } = args;
      return { result: await collection.count(filter ?? {}, opts), root: false };
    }
    case "distinct": {
      const { fieldName, filter, ...opts } = args;
      return { result: await collection.distinct(fieldName, filter ?? {}, opts), root: false };
    }
    case "findOneAndUpdate":
    case "findOneAndReplace":
    case "findOneAndDelete": {
      const { filter, update, replacement, ...opts } = args;
      const options = { ...opts, ..._returnDocument(opts.returnDocument) };
      const result = name === "findOneAndUpdate"
        ? await collection.findOneAndUpdate(filter, update, options)
        : name === "findOneAndReplace"
        ? await collection.findOneAndReplace(filter, replacement, options)
        : await collection.findOneAndDelete(filter, options);
      return { result, root: true };
    }
    case "createIndex": {
      const { keys, ...opts } = args;
      return { result: await collection.createIndex(keys, opts), root: false };
    }
    case "dropIndex": {
      const { name: indexName, ...opts } = args;
      await collection.dropIndex(indexName, opts);
      return { result: undefined, root: false };
    }
    case "listIndexes":
      return { result: await collection.listIndexes(args).toArray(), root: true };
    case "drop":
      return { result: await collection.drop(args), root: false };
    case "rename": {
      const { to, ...opts } = args;
      await collection.rename(to, opts);
      return { result: undefined, root: false };
    }
    case "createChangeStream": {
      const { pipeline, ...opts } = args;
      return await _openChangeStream(collection.watch(pipeline ?? [], opts));
    }
  }
  throw new UnsupportedOperationError(`Unsupported collection operation "${name}"`);
}

async function _databaseOperation(db: Db, name: string, args: Document): Promise<OperationOutcome> {
  switch (name) {
    case "runCommand": {
      const { command, commandName: _commandName, ...opts } = args;
      return { result: await db.command(command, opts), root: true };
    }
    case "aggregate": {
      const { pipeline, ...opts } = args;
      return { result: await db.aggregate(pipeline, opts).toArray(), root: true };
    }
    case "createCollection": {
      const { collection, ...opts } = args;
      await db.createCollection(collection, opts);
      return { result: undefined, root: false };
    }
    case "modifyCollection": {
      // No driver helper: the format's modifyCollection is the collMod command.
      const { collection, session, ...changes } = args;
      return {
        result: await db.command({ collMod: collection, ...changes }, { session }),
        root: true,
      };
    }
    case "dropCollection": {
      const { collection, ...opts } = args;
      return { result: await db.dropCollection(collection, opts), root: false };
    }
    case "listCollections": {
      const { filter, ...opts } = args;
      return { result: await db.listCollections(filter ?? {}, opts).toArray(), root: true };
    }
    case "listCollectionNames": {
      const { filter, ...opts } = args;
      const infos = await db.listCollections(filter ?? {}, { ...opts, nameOnly: true }).toArray();
      return { result: infos.map((info) => info.name), root: false };
    }
    case "createChangeStream": {
      const { pipeline, ...opts } = args;
      return await _openChangeStream(db.watch(pipeline ?? [], opts));
    }
  }
  throw new UnsupportedOperationError(`Unsupported database operation "${name}"`);
}

async function _clientOperation(
  client: MongoClient,
  name: string,
  args: Document,
): Promise<OperationOutcome> {
  switch (name) {
    case "createChangeStream": {
      const { pipeline, ...opts } = args;
      return await _openChangeStream(client.watch(pipeline ?? [], opts));
    }
    case "listDatabases":
      return { result: (await client.db().admin().listDatabases(args)).databases, root: true };
    case "clientBulkWrite": {
      const { models, ...opts } = args;
      const result = await client.bulkWrite(clientBulkWriteModels(models), opts);
      return { result: clientBulkWriteResultToDocument(result), root: true };
    }
    case "close":
      await client.close();
      return { result: undefined, root: false };
  }
  throw new UnsupportedOperationError(`Unsupported client operation "${name}"`);
}

/** The driver's change-stream cursor, whose initialisation the runner must force */
interface _InitialisableCursor {
  cursorInit(): Promise<void>;
}

async function _openChangeStream(stream: ChangeStream): Promise<OperationOutcome> {
  // The format requires the aggregate to run now, without iterating. The driver runs it lazily,
  // so the runner initialises the underlying cursor itself (the driver's own runner does the same).
  const cursor = (stream as unknown as { cursor: _InitialisableCursor }).cursor;
  try {
    await cursor.cursorInit();
  } catch (error) {
    await stream.close().catch(() => undefined);
    throw error;
  }
  return { result: undefined, root: false, entity: { kind: "changeStream", stream } };
}

async function _changeStreamOperation(
  stream: ChangeStream,
  name: string,
  timeoutMS: number,
): Promise<OperationOutcome> {
  switch (name) {
    case "iterateUntilDocumentOrError": {
      // tryNext() runs at most one getMore, so the loop can stop at a deadline instead of
      // blocking forever when the server never delivers the event.
      const deadline = Date.now() + timeoutMS;
      while (true) {
        const change = await stream.tryNext();
        if (change !== null) return { result: change, root: true };
        if (stream.closed) throw new Error("Change stream closed before returning a document");
        if (Date.now() > deadline) {
          throw new IterationTimeoutError(
            `No change event within ${timeoutMS} ms (getMore kept returning empty batches)`,
          );
        }
      }
    }
    case "iterateOnce":
      return { result: await stream.tryNext(), root: true };
    case "close":
      await stream.close().catch(() => undefined);
      return { result: undefined, root: false };
  }
  throw new UnsupportedOperationError(`Unsupported change stream operation "${name}"`);
}

/** The runner gave up waiting for a change stream document */
export class IterationTimeoutError extends Error {
  /** @param message what was waited for */
  constructor(message: string) {
    super(message);
    this.name = "IterationTimeoutError";
  }
}

/**
 * Converts an update or replace result to the format's UpdateResult document. A null
 * `upsertedId` is the driver's way of saying "unset".
 *
 * @param result the driver's result
 * @returns `{ matchedCount, modifiedCount, upsertedCount, upsertedId? }`
 */
export function updateResultToDocument(
  result: {
    matchedCount: number;
    modifiedCount: number;
    upsertedCount: number;
    upsertedId: unknown;
  },
): Document {
  const doc: Document = {
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    upsertedCount: result.upsertedCount,
  };
  if (result.upsertedId !== null && result.upsertedId !== undefined) {
    doc.upsertedId = result.upsertedId;
  }
  return doc;
}

/**
 * Converts the driver's BulkWriteResult (a class with getters) to the format's document.
 *
 * @param result the driver's result, from `bulkWrite()` or a MongoBulkWriteError
 * @returns `{ insertedCount, matchedCount, modifiedCount, deletedCount, upsertedCount, upsertedIds, insertedIds }`
 */
export function bulkWriteResultToDocument(
  result: BulkWriteResult,
  failure?: BulkWriteFailure,
): Document {
  return {
    insertedCount: result.insertedCount,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    upsertedCount: result.upsertedCount,
    upsertedIds: { ...result.upsertedIds },
    insertedIds: failure === undefined
      ? { ...result.insertedIds }
      : _insertedIdsOfFailure(result, failure),
  };
}

/** How a bulk write failed, for the ids it reports ({@linkcode bulkWriteResultToDocument}) */
export interface BulkWriteFailure {
  /** Indexes of the operations that failed with a write error */
  writeErrorIndexes: readonly number[];
  /** Whether the bulk write was ordered (it stops at the first error) */
  ordered: boolean;
}

/**
 * The driver lists, in a failed bulk write's result, the id of every document it sent to be
 * inserted; the format's `insertedIds` are those of the documents the server inserted. Without
 * the failing ones, the inserts an ordered write ran are the first `insertedCount` (it stops at
 * the first error); when an unordered write does not say which, the ids are left unset, as the
 * format allows.
 */
function _insertedIdsOfFailure(
  result: BulkWriteResult,
  failure: BulkWriteFailure,
): Document | undefined {
  const failed = new Set(failure.writeErrorIndexes);
  const attempted = Object.entries(result.insertedIds)
    .filter(([index]) => !failed.has(Number(index)))
    .sort(([a], [b]) => Number(a) - Number(b));
  if (attempted.length === result.insertedCount) return Object.fromEntries(attempted);
  if (!failure.ordered) return undefined;
  return Object.fromEntries(attempted.slice(0, result.insertedCount));
}

/**
 * Converts the format's clientBulkWrite models (`{ insertOne: { namespace, document } }`, …)
 * to the driver's (`{ name: "insertOne", namespace, document }`).
 *
 * @param models the `models` argument of the operation
 * @returns the driver's write models
 */
export function clientBulkWriteModels(models: unknown): ClientBulkWriteModel[] {
  if (!Array.isArray(models)) throw new Error("clientBulkWrite requires a models array");
  return models.map((model: Document) => {
    const [name, fields] = Object.entries(model)[0] ?? [];
    if (!CLIENT_BULK_WRITE_MODELS.has(String(name))) {
      throw new UnsupportedOperationError(`Unsupported clientBulkWrite model "${name}"`);
    }
    return { name, ...(fields as Document) } as ClientBulkWriteModel;
  });
}

const CLIENT_BULK_WRITE_MODELS = new Set([
  "insertOne",
  "updateOne",
  "updateMany",
  "replaceOne",
  "deleteOne",
  "deleteMany",
]);

/**
 * Converts the driver's ClientBulkWriteResult to the format's document: the counts, and the
 * verbose results (maps keyed by model index) as documents keyed by the index.
 *
 * @param result the driver's result
 * @returns `{ insertedCount, upsertedCount, matchedCount, modifiedCount, deletedCount,
 *   insertResults, updateResults, deleteResults }`
 */
export function clientBulkWriteResultToDocument(result: ClientBulkWriteResult): Document {
  const entries = (map: ReadonlyMap<number, unknown> | undefined): Document =>
    Object.fromEntries([...(map?.entries() ?? [])].map(([i, v]) => [String(i), v]));
  return {
    insertedCount: result.insertedCount,
    upsertedCount: result.upsertedCount,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    insertResults: entries(result.insertResults),
    updateResults: entries(result.updateResults),
    deleteResults: entries(result.deleteResults),
  };
}

function _returnDocument(value: unknown): Document {
  if (value === undefined) return {};
  const lower = String(value).toLowerCase();
  if (lower !== "before" && lower !== "after") {
    throw new Error(`returnDocument must be "Before" or "After", got "${value}"`);
  }
  return { returnDocument: lower };
}

/**
 * The Node driver replaces an explicit `_id: null` with a new ObjectId unless the server is asked
 * to generate ids, which would defeat the tests that insert null ids on purpose. Asking for
 * server-generated ids on those operations only keeps the document as the test wrote it.
 */
function _idOptions(documents: unknown[], options: Document): Document {
  const hasNullId = documents.some((doc) =>
    typeof doc === "object" && doc !== null && Object.hasOwn(doc, "_id") &&
    (doc as Document)._id === null
  );
  return hasNullId ? { ...options, forceServerObjectId: true } : options;
}
