/**
 * Catalog commands: create, drop, dropDatabase, renameCollection, listCollections,
 * createIndexes, listIndexes, dropIndexes.
 *
 * @module
 */

import { compareValues, type Doc, isPlainDoc, valueKey } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { compileFilter } from "../query/mingo_context.ts";
import type { Collection } from "../engine/collection.ts";
import type { Index } from "../engine/indexes.ts";
import { validatePipeline } from "../query/pipeline.ts";
import { isView, rejectViewWrite } from "../engine/views.ts";
import type { Namespace } from "../engine/oplog.ts";
import { LOCAL_DB, oplogCollectionInfo } from "../engine/local_db.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import {
  docOption,
  documentCursorReply,
  GENERIC_FIELDS,
  intOption,
  targetCollection,
} from "./_shared.ts";

function _create(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  if (ctx.body.viewOn !== undefined) {
    if (typeof ctx.body.viewOn !== "string") {
      throw new CommandError(
        14,
        "BSON field 'create.viewOn' is the wrong type, expected type 'string'",
      );
    }
    const pipeline = ctx.body.pipeline ?? [];
    validatePipeline(pipeline);
    if (pipeline.some((stage) => "$out" in stage || "$merge" in stage)) {
      throw new CommandError(
        166,
        "$out and $merge cannot be used in a view definition",
      );
    }
  } else if (ctx.body.pipeline !== undefined) {
    throw new CommandError(9, "'pipeline' requires 'viewOn' to also be specified");
  }
  const options: Doc = {};
  for (const [key, value] of Object.entries(ctx.body)) {
    if (key !== "create" && !GENERIC_FIELDS.has(key)) options[key] = value;
  }
  if (options.clusteredIndex !== undefined) {
    options.clusteredIndex = _clusteredIndex(options.clusteredIndex);
  }
  ctx.state.storage.createCollection(ctx.db, name, options);
  return {};
}

/**
 * Checks a clustered collection's `clusteredIndex` and gives it the version mongod stores
 * (`listCollections` shows `{ v: 2, key: { _id: 1 }, name, unique: true }`).
 */
function _clusteredIndex(spec: unknown): Doc {
  if (spec === true) return { v: 2, key: { _id: 1 }, name: "_id_", unique: true };
  if (!isPlainDoc(spec)) {
    throw new CommandError(
      14,
      "BSON field 'create.clusteredIndex' is the wrong type, expected types '[bool, object]'",
    );
  }
  if (valueKey(spec.key) !== valueKey({ _id: 1 })) {
    throw new CommandError(2, "The clusteredIndex 'key' must be { _id: 1 }");
  }
  if (spec.unique !== true) {
    throw new CommandError(2, "The clusteredIndex 'unique' field must be true");
  }
  const { v: _v, ...rest } = spec;
  return { v: 2, ...rest };
}

function _drop(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  const nIndexesWas = collection ? collection.indexes.size + 1 : 0;
  ctx.state.storage.dropCollection(ctx.db, name);
  return collection ? { nIndexesWas, ns: collection.ns } : {};
}

function _dropDatabase(ctx: CommandContext): Doc {
  ctx.state.storage.dropDatabase(ctx.db);
  return { dropped: ctx.db };
}

/** Splits `db.coll` at its first dot, as MongoDB reads a namespace string. */
function _namespace(value: unknown, field: string): Namespace {
  if (typeof value !== "string") {
    throw new CommandError(
      value === undefined ? 40414 : 14,
      value === undefined
        ? `BSON field 'renameCollection.${field}' is missing but a required field`
        : `BSON field 'renameCollection.${field}' is the wrong type '${typeof value}', expected type 'string'`,
    );
  }
  const dot = value.indexOf(".");
  if (dot <= 0 || dot === value.length - 1) {
    const which = field === "to" ? "target" : "source";
    throw new CommandError(73, `Invalid ${which} namespace: ${value}`);
  }
  return { db: value.slice(0, dot), coll: value.slice(dot + 1) };
}

function _renameCollection(ctx: CommandContext): Doc {
  if (ctx.db !== "admin") {
    throw new CommandError(13, "renameCollection may only be run against the admin database.");
  }
  const from = _namespace(ctx.body.renameCollection, "renameCollection");
  const to = _namespace(ctx.body.to, "to");
  ctx.state.storage.renameCollection(from, to, ctx.body.dropTarget === true);
  return {};
}

function _listCollections(ctx: CommandContext): Doc {
  const collections = ctx.state.storage.databases.get(ctx.db);
  const nameOnly = ctx.body.nameOnly === true;
  const oplog = ctx.db === LOCAL_DB ? [oplogCollectionInfo(ctx.state.storage.oplog, nameOnly)] : [];
  let docs: Doc[] = [...(collections?.values() ?? [])].map((c) => {
    const type = isView(c) ? "view" : "collection";
    if (nameOnly) return { name: c.name, type };
    if (type === "view") {
      return { name: c.name, type, options: c.options, info: { readOnly: true } };
    }
    return {
      name: c.name,
      type,
      options: c.options,
      info: { readOnly: false, uuid: c.uuid },
      idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
    };
  });
  docs.push(...oplog);
  const filter = docOption(ctx.body, "filter");
  if (filter) docs = docs.filter(compileFilter(filter));
  const cursor = docOption(ctx.body, "cursor") ?? {};
  const batchSize = intOption(cursor, "batchSize");
  return documentCursorReply(
    ctx,
    `${ctx.db}.$cmd.listCollections`,
    docs,
    batchSize !== undefined ? { batchSize } : {},
  );
}

function _createIndexes(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const specs = ctx.body.indexes;
  if (!Array.isArray(specs) || specs.length === 0 || !specs.every(isPlainDoc)) {
    throw new CommandError(2, "Must specify at least one index to create");
  }
  const storage = ctx.state.storage;
  rejectViewWrite(storage.collection(ctx.db, name));
  const existed = storage.collection(ctx.db, name) !== undefined;
  const collection = storage.ensureCollection(ctx.db, name);
  const numIndexesBefore = collection.indexes.size + 1;
  let created = 0;
  const indexes: Doc[] = [];
  for (const spec of specs as Doc[]) {
    if (!collection.createIndex(spec)) continue;
    created++;
    indexes.push(collection.indexSpecs().at(-1)!);
  }
  if (indexes.length > 0) collection.recordDdl("createIndexes", { indexes });
  const reply: Doc = {
    numIndexesBefore,
    numIndexesAfter: collection.indexes.size + 1,
    createdCollectionAutomatically: !existed,
  };
  if (created === 0) reply.note = "all indexes already exist";
  return reply;
}

function _listIndexes(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (!collection) throw new CommandError(26, `ns does not exist: ${ctx.db}.${name}`);
  const cursor = docOption(ctx.body, "cursor") ?? {};
  const batchSize = intOption(cursor, "batchSize");
  return documentCursorReply(
    ctx,
    collection.ns,
    collection.indexSpecs(),
    batchSize !== undefined ? { batchSize } : {},
  );
}

function _dropIndexes(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (!collection) throw new CommandError(26, `ns not found ${ctx.db}.${name}`);
  const nIndexesWas = collection.indexes.size + 1;
  const target = ctx.body.index;
  const before = collection.indexSpecs();
  if (target === "*") {
    collection.indexes.clear();
  } else if (typeof target === "string") {
    collection.dropIndex(target);
  } else if (Array.isArray(target)) {
    for (const indexName of target) collection.dropIndex(String(indexName));
  } else if (isPlainDoc(target)) {
    const found = collection.indexSpecs().find((spec) => valueKey(spec.key) === valueKey(target));
    if (!found) {
      throw new CommandError(27, `can't find index with key: ${JSON.stringify(target)}`);
    }
    collection.dropIndex(found.name);
  } else {
    throw new CommandError(14, "BSON field 'dropIndexes.index' is missing but a required field");
  }
  const dropped = before.filter((spec) =>
    !collection.indexes.has(spec.name) && spec.name !== "_id_"
  );
  if (dropped.length > 0) collection.recordDdl("dropIndexes", { indexes: dropped });
  return { nIndexesWas };
}

const _VALIDATION_LEVELS = new Set(["off", "strict", "moderate"]);
const _VALIDATION_ACTIONS = new Set(["error", "warn"]);
const _COLLMOD_FIELDS = new Set([
  "changeStreamPreAndPostImages",
  "validator",
  "validationLevel",
  "validationAction",
  "index",
  "expireAfterSeconds",
  "viewOn",
  "pipeline",
]);

/** `collMod.index`: changes `hidden`, `expireAfterSeconds`, `prepareUnique` or `unique` of one index. */
function _modifyIndex(collection: Collection, change: unknown, reply: Doc): Doc {
  if (!isPlainDoc(change)) {
    throw new CommandError(
      14,
      "BSON field 'collMod.index' is the wrong type, expected type 'object'",
    );
  }
  const found = [...collection.indexes.values()].find((index) =>
    typeof change.name === "string"
      ? index.spec.name === change.name
      : valueKey(index.spec.key) === valueKey(change.keyPattern)
  );
  if (!found) {
    throw new CommandError(
      27,
      `cannot find index ${
        JSON.stringify(change.name ?? change.keyPattern)
      } for ns ${collection.ns}`,
    );
  }
  const described: Doc = { name: found.spec.name, keyPattern: found.spec.key };
  if (change.unique !== undefined) _checkConvertToUnique(collection, found, change.unique);
  for (const field of ["hidden", "expireAfterSeconds", "prepareUnique", "unique"]) {
    if (change[field] === undefined) continue;
    reply[`${field}_old`] = found.spec[field];
    reply[`${field}_new`] = change[field];
    found.spec[field] = change[field];
    described[field] = change[field];
  }
  return described;
}

/**
 * Checks that `collMod` may make an index unique: only `unique: true`, only once the index is
 * `prepareUnique` (so no new duplicate arrived meanwhile), and only without duplicate keys left,
 * which fail with CannotConvertIndexToUnique listing the `_id`s of each group of duplicates.
 */
function _checkConvertToUnique(collection: Collection, index: Index, unique: unknown): void {
  if (unique !== true) {
    throw new CommandError(2, "The field 'unique' can only be set to true");
  }
  if (index.unique) return;
  if (index.spec.prepareUnique !== true) {
    throw new CommandError(
      72,
      "Cannot make index unique with 'unique: true' without setting 'prepareUnique: true' first",
    );
  }
  const violations: Doc[] = [];
  for (const holders of index.entries.values()) {
    if (holders.size < 2) continue;
    const ids = [...holders].map((key) => collection.docs.get(key)?._id);
    violations.push({ ids: ids.sort(compareValues) });
  }
  if (violations.length > 0) {
    throw new CommandError(
      359,
      "Cannot convert the index to unique. Please resolve conflicting documents before running collMod again.",
      { extra: { codeName: "CannotConvertIndexToUnique", violations } },
    );
  }
}

/**
 * `collMod`: changes a collection's options (`changeStreamPreAndPostImages`, `validator`,
 * `validationLevel`, `validationAction`, a view's `viewOn` and `pipeline`) or an index's
 * `hidden` and `expireAfterSeconds`, and records a `modify` event.
 */
function _collMod(ctx: CommandContext): Doc {
  const name = targetCollection(ctx);
  const collection = ctx.state.storage.collection(ctx.db, name);
  if (!collection) throw new CommandError(26, `ns does not exist: ${ctx.db}.${name}`);
  const changes: Doc = {};
  for (const [key, value] of Object.entries(ctx.body)) {
    if (key === "collMod" || GENERIC_FIELDS.has(key)) continue;
    if (!_COLLMOD_FIELDS.has(key)) {
      throw new CommandError(40415, `BSON field 'collMod.${key}' is an unknown field.`);
    }
    changes[key] = value;
  }
  const isView = typeof collection.options.viewOn === "string";
  if ((changes.viewOn !== undefined || changes.pipeline !== undefined) && !isView) {
    throw new CommandError(72, "option only supported on a view: viewOn");
  }
  if (
    changes.validationLevel !== undefined &&
    !_VALIDATION_LEVELS.has(String(changes.validationLevel))
  ) {
    throw new CommandError(
      2,
      `Enumeration value '${
        String(changes.validationLevel)
      }' for field 'collMod.validationLevel' is not a valid value.`,
    );
  }
  if (
    changes.validationAction !== undefined &&
    !_VALIDATION_ACTIONS.has(String(changes.validationAction))
  ) {
    throw new CommandError(
      2,
      `Enumeration value '${
        String(changes.validationAction)
      }' for field 'collMod.validationAction' is not a valid value.`,
    );
  }
  if (changes.validator !== undefined) {
    if (!isPlainDoc(changes.validator)) {
      throw new CommandError(
        14,
        "BSON field 'collMod.validator' is the wrong type, expected type 'object'",
      );
    }
    compileFilter(changes.validator);
  }
  const setting = changes.changeStreamPreAndPostImages;
  if (setting !== undefined && (!isPlainDoc(setting) || typeof setting.enabled !== "boolean")) {
    throw new CommandError(
      40414,
      "BSON field 'changeStreamPreAndPostImages.enabled' is missing but a required field",
    );
  }
  const reply: Doc = {};
  const description: Doc = { ...changes };
  if (changes.index !== undefined) {
    description.index = _modifyIndex(collection, changes.index, reply);
  }
  const stateBeforeChange = { collectionOptions: { ...collection.options } };
  const { index: _index, ...options } = changes;
  collection.options = { ...collection.options, ...options };
  collection.recordDdl("modify", description, stateBeforeChange);
  return reply;
}

/** Catalog commands. */
export const CATALOG_COMMANDS: Record<string, CommandHandler> = {
  create: _create,
  drop: _drop,
  dropDatabase: _dropDatabase,
  renameCollection: _renameCollection,
  listCollections: _listCollections,
  createIndexes: _createIndexes,
  listIndexes: _listIndexes,
  dropIndexes: _dropIndexes,
  deleteIndexes: _dropIndexes,
  collMod: _collMod,
};
