/**
 * Aggregation pipelines: mingo evaluates the stages, except a leading `$match` (answered
 * from the `_id` map or an index when it pins fields by equality), `$lookup` with
 * `localField`/`foreignField` (a hash join over the foreign collection's `_id` map, an index,
 * or a cached hash table), `$out` and `$merge`.
 *
 * @module
 */

import { Aggregator } from "mingo/aggregator";
import { evalExpr } from "mingo/core";
import type { Options } from "mingo/types";
import { calculateObjectSize, ObjectId } from "bson";
import { MAX_BSON_SIZE } from "../wire/wire.ts";
import { cloneValue, type Doc, isPlainDoc, pathValues, setPath, valueKey } from "../bson_values.ts";
import { duplicateKeyError } from "../engine/indexes.ts";
import { SANDBOX_KNOWN_STAGES } from "../engine/change_streams.ts";
import { type Collection, withIdFirst } from "../engine/collection.ts";
import { asCommandError, CommandError } from "../errors.ts";
import { type Collation, optionsCollation } from "./collation.ts";
import { compileFilter, mingoOptions, pinNow, runStages } from "./mingo_context.ts";
import type { Storage } from "../engine/storage.ts";
import { isView, resolveView } from "../engine/views.ts";

/** Where a pipeline reads from. */
export interface PipelineSource {
  /** Database the pipeline runs in (for `$lookup`'s `from`). */
  db: string;
  /** The collection, or `undefined` for a missing collection or `aggregate: 1`. */
  collection?: Collection;
}

/**
 * Finds the documents matching a filter, using an index when the filter allows.
 *
 * @param collection The collection.
 * @param filter The query filter.
 * @param options mingo options.
 * @returns Matching documents in natural (or index) order.
 */
export function findMatching(
  collection: Collection | undefined,
  filter: Doc,
  options: Partial<Options> = mingoOptions(),
): Doc[] {
  if (!collection) {
    compileFilter(filter, options);
    return [];
  }
  if (Object.keys(filter).length === 0) return collection.all();
  // Under a collation that folds strings an index on the raw values would miss matches.
  const plan = optionsCollation(options)
    ? { docs: collection.all(), exact: false, indexField: undefined }
    : collection.plan(filter);
  const candidates = plan.docs;
  if (plan.exact) return candidates;
  // The field the plan looked up by equality needs no second check: evaluating a 1,000-value
  // `$in` again on each of its 1,000 candidates made a batch's `$match` quadratic.
  let residual = filter;
  if (plan.indexField !== undefined && Object.hasOwn(filter, plan.indexField)) {
    const { [plan.indexField]: _planned, ...rest } = filter;
    residual = rest;
  }
  if (Object.keys(residual).length === 0) return candidates;
  const predicate = compileFilter(residual, options);
  const out: Doc[] = [];
  for (const doc of candidates) if (predicate(doc)) out.push(doc);
  return out;
}

/**
 * Checks stage names the way MongoDB does before running anything.
 *
 * @param pipeline The stages.
 */
export function validatePipeline(pipeline: unknown): asserts pipeline is Doc[] {
  if (!Array.isArray(pipeline)) {
    throw new CommandError(14, "'pipeline' option must be specified as an array");
  }
  pipeline.forEach((stage, i) => {
    if (!isPlainDoc(stage) || Object.keys(stage).length !== 1) {
      throw new CommandError(
        40323,
        "A pipeline stage specification object must contain exactly one field.",
      );
    }
    const name = Object.keys(stage)[0]!;
    if (!SANDBOX_KNOWN_STAGES.has(name)) {
      throw new CommandError(40324, `Unrecognized pipeline stage name: '${name}'`);
    }
    if (name === "$changeStream" && i > 0) {
      throw new CommandError(
        40602,
        "$changeStream is only valid as the first stage in a pipeline.",
      );
    }
    if (name === "$listLocalSessions" && i > 0) {
      throw new CommandError(
        40602,
        "$listLocalSessions is only valid as the first stage in a pipeline.",
      );
    }
    if ((name === "$out" || name === "$merge") && i !== pipeline.length - 1) {
      throw new CommandError(40601, `${name} can only be the final stage in the pipeline`);
    }
  });
}

type _JoinTable = Map<string, Doc[]>;
const _joinTables = new WeakMap<Collection, Map<string, { version: number; table: _JoinTable }>>();

function _joinTable(collection: Collection, field: string): _JoinTable {
  let perField = _joinTables.get(collection);
  if (!perField) _joinTables.set(collection, perField = new Map());
  const cached = perField.get(field);
  if (cached && cached.version === collection.version) return cached.table;
  const table: _JoinTable = new Map();
  for (const doc of collection.docs.values()) {
    const values = pathValues(doc, field);
    const keys = new Set(values.length === 0 ? ["z"] : values.map(valueKey));
    for (const key of keys) {
      const bucket = table.get(key);
      if (bucket) bucket.push(doc);
      else table.set(key, [doc]);
    }
  }
  perField.set(field, { version: collection.version, table });
  return table;
}

function _lookupFinder(foreign: Collection | undefined, field: string): (keys: string[]) => Doc[] {
  if (!foreign) return () => [];
  if (field === "_id") {
    return (keys) => {
      const out: Doc[] = [];
      for (const key of keys) {
        const doc = foreign.docs.get(key);
        if (doc) out.push(doc);
      }
      return out;
    };
  }
  const index = foreign.indexOn(field);
  if (index && !index.spec.sparse) {
    return (keys) => {
      const out: Doc[] = [];
      const seen = new Set<string>();
      for (const key of keys) {
        for (const idKey of index.entries.get(key) ?? []) {
          if (seen.has(idKey)) continue;
          seen.add(idKey);
          const doc = foreign.docs.get(idKey);
          if (doc) out.push(doc);
        }
      }
      return out;
    };
  }
  const table = _joinTable(foreign, field);
  return (keys) => {
    if (keys.length === 1) return table.get(keys[0]!) ?? [];
    const out = new Set<Doc>();
    for (const key of keys) for (const doc of table.get(key) ?? []) out.add(doc);
    return [...out];
  };
}

function _hashLookup(
  docs: Doc[],
  spec: Doc,
  storage: Storage,
  db: string,
  options: Partial<Options>,
): Doc[] {
  const from = spec.from;
  const localField = spec.localField as string;
  const foreignField = spec.foreignField as string;
  const as = spec.as;
  if (typeof from !== "string" || typeof as !== "string") {
    throw new CommandError(40321, "$lookup requires 'from' and 'as' strings");
  }
  const find = _lookupFinder(storage.collection(db, from), foreignField);
  const subPipeline = Array.isArray(spec.pipeline) && spec.pipeline.length > 0
    ? spec.pipeline as Doc[]
    : undefined;
  const letSpec = isPlainDoc(spec.let) ? spec.let : undefined;
  // A document that matched nothing needs no run of a sub-pipeline that gives nothing from
  // nothing; without `let`, one aggregator serves every document (mingo builds its operator
  // tables anew for each one, about a millisecond).
  const nothingFromNothing = subPipeline?.every((stage) =>
    _NOTHING_FROM_NOTHING.has(Object.keys(stage)[0] ?? "")
  );
  const shared = subPipeline && !letSpec
    ? new Aggregator(subPipeline as never, options)
    : undefined;
  const owned = _ownedResults.has(docs);
  const out: Doc[] = new Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i]!;
    const values = pathValues(doc, localField);
    const keys = values.length === 0 ? ["z"] : [...new Set(values.map(valueKey))];
    let matched = find(keys);
    if (subPipeline && !(matched.length === 0 && nothingFromNothing)) {
      const aggregator = shared ?? new Aggregator(subPipeline as never, {
        ...options,
        // The command's `let` variables stay visible beside the lookup's own.
        variables: { ...options.variables, ..._evalLet(doc, letSpec!, options) },
      });
      matched = aggregator.run(matched) as Doc[];
    }
    if (as.includes(".")) {
      // A deep copy: the shallow copies below share their subdocuments with the stored ones.
      const copy = cloneValue(doc);
      setPath(copy, as, matched);
      out[i] = copy;
    } else if (owned) {
      doc[as] = matched;
      out[i] = doc;
    } else {
      out[i] = { ...doc, [as]: matched };
    }
  }
  _ownedResults.add(out);
  return out;
}

// Results of a lookup: documents it made, which the next lookup may add its field to in place
// (four lookups in a row copied each order four times).
const _ownedResults = new WeakSet<Doc[]>();

// Stages whose output is empty when their input is ($facet, $unionWith and $documents are not).
const _NOTHING_FROM_NOTHING = new Set([
  "$match",
  "$project",
  "$addFields",
  "$set",
  "$unset",
  "$limit",
  "$skip",
  "$sort",
  "$replaceRoot",
  "$replaceWith",
  "$unwind",
  "$group",
  "$count",
]);

/** `$unionWith`'s collection and pipeline, when the stage is well formed (else mingo's error). */
function _unionTarget(spec: unknown): { coll?: string; pipeline: Doc[] } | undefined {
  if (typeof spec === "string") return { coll: spec, pipeline: [] };
  if (!isPlainDoc(spec)) return undefined;
  const coll = spec.coll;
  const pipeline = spec.pipeline ?? [];
  if ((coll !== undefined && typeof coll !== "string") || !Array.isArray(pipeline)) {
    return undefined;
  }
  if (coll === undefined && pipeline.length === 0) return undefined;
  return { coll, pipeline: pipeline as Doc[] };
}

function _evalLet(doc: Doc, letSpec: Doc, options: Partial<Options>): Doc {
  return evalExpr(doc, letSpec, options as Options) as Doc;
}

function _out(docs: Doc[], target: unknown, storage: Storage, db: string): void {
  const [targetDb, name] = isPlainDoc(target)
    ? [String(target.db ?? db), String(target.coll)]
    : [db, String(target)];
  const existing = storage.collection(targetDb, name);
  const collection = existing ?? storage.ensureCollection(targetDb, name);
  for (const doc of [...collection.docs.values()]) collection.delete(doc);
  for (const doc of docs) collection.insert(withIdFirst(doc));
}

const _ID_SPEC = { v: 2, key: { _id: 1 }, name: "_id_" };

/**
 * `$merge` as MongoDB documents it: each result is matched in the target on the `on` fields
 * (default `_id`; other fields need a unique index on exactly them, else 51183), then
 * `whenMatched` (`merge` by default, `replace`, `keepExisting`, `fail`, or an update pipeline
 * seeing the result as `$$new`) and `whenNotMatched` (`insert` by default, `discard`, `fail`).
 * Writes go through the collection, so they reach the oplog and change streams; writes done
 * before a failure stay, as on MongoDB.
 */
function _merge(
  docs: Doc[],
  spec: unknown,
  storage: Storage,
  db: string,
  options: Partial<Options>,
): void {
  const merge: Doc = typeof spec === "string" ? { into: spec } : isPlainDoc(spec) ? spec : {};
  if (!isPlainDoc(spec) && typeof spec !== "string") {
    throw new CommandError(51182, "$merge only supports a string or object argument");
  }
  const into = merge.into;
  const [targetDb, name] = isPlainDoc(into)
    ? [String(into.db ?? db), String(into.coll)]
    : [db, String(into)];
  if (typeof into !== "string" && !isPlainDoc(into)) {
    throw new CommandError(51178, "$merge 'into' field must be either a string or an object");
  }
  const on = merge.on === undefined
    ? ["_id"]
    : (Array.isArray(merge.on) ? merge.on : [merge.on]).map(String);
  const whenMatched = merge.whenMatched ?? "merge";
  const whenNotMatched = merge.whenNotMatched ?? "insert";
  if (!["insert", "discard", "fail"].includes(String(whenNotMatched))) {
    throw new CommandError(
      9,
      `Enumeration value '${
        String(whenNotMatched)
      }' for field '$merge.whenNotMatched' is not a valid value.`,
    );
  }
  if (
    !Array.isArray(whenMatched) &&
    !["replace", "keepExisting", "merge", "fail"].includes(String(whenMatched))
  ) {
    throw new CommandError(
      9,
      `Enumeration value '${
        String(whenMatched)
      }' for field '$merge.whenMatched' is not a valid value.`,
    );
  }
  const existing = storage.collection(targetDb, name);
  const onId = on.length === 1 && on[0] === "_id";
  const index = onId
    ? undefined
    : [...(existing?.indexes.values() ?? [])].find((candidate) =>
      candidate.unique && !candidate.spec.partialFilterExpression &&
      Object.keys(candidate.spec.key).length === on.length &&
      on.every((field) => field in candidate.spec.key)
    );
  if (!onId && !index) {
    throw new CommandError(
      51183,
      "Cannot find index to verify that join fields will be unique",
    );
  }
  const target = existing ?? storage.ensureCollection(targetDb, name);
  const letVars = isPlainDoc(merge.let) ? merge.let : { new: "$$ROOT" };
  for (const result of docs) {
    const values = on.map((field) => pathValues(result, field));
    if (values.some((v) => v.length !== 1 || v[0] === null || Array.isArray(v[0]))) {
      throw new CommandError(
        51132,
        "$merge write error: 'on' field cannot be missing, null, undefined or an array",
      );
    }
    const keys = values.map((v) => v[0]);
    const matched = onId
      ? target.docs.get(valueKey(keys[0]))
      : target.candidates(Object.fromEntries(on.map((f, i) => [f, keys[i]]))).find((doc) =>
        on.every((f, i) => valueKey(pathValues(doc, f)[0]) === valueKey(keys[i]))
      );
    if (!matched) {
      if (whenNotMatched === "discard") continue;
      if (whenNotMatched === "fail") {
        throw new CommandError(
          13113,
          "$merge could not find a matching document in the target collection for at least one document in the source collection",
        );
      }
      const doc = "_id" in result ? result : { _id: new ObjectId(), ...result };
      target.insert(_withinLimit(withIdFirst(cloneValue(doc))));
      continue;
    }
    if (whenMatched === "keepExisting") continue;
    if (whenMatched === "fail") {
      throw duplicateKeyError(target.ns, index?.spec ?? _ID_SPEC, keys);
    }
    if ("_id" in result && valueKey(result._id) !== valueKey(matched._id)) {
      throw new CommandError(
        66,
        "$merge failed to update the matching document, did you attempt to modify the _id or the shard key?",
      );
    }
    let after: Doc;
    if (whenMatched === "replace") {
      after = withIdFirst({ ...cloneValue(result), _id: matched._id });
    } else if (whenMatched === "merge") {
      after = { ...cloneValue(matched), ...cloneValue(result), _id: matched._id };
    } else {
      const variables = evalExpr(result, letVars, options as Options) as Doc;
      const updated = runStages([cloneValue(matched)], whenMatched as Doc[], {
        ...options,
        variables: { ...(options.variables ?? {}), ...variables },
      })[0]!;
      after = { ...updated, _id: matched._id };
    }
    _withinLimit(after);
    // A replacement is a replace event; merge and pipeline modes are updates, as on MongoDB.
    target.replace(
      matched,
      after,
      whenMatched === "replace" ? undefined : _updateDescription(matched, after),
    );
  }
}

/**
 * At least a value's BSON size, in few steps: a string's UTF-8 is at most 3 bytes per UTF-16
 * unit, a scalar or a small BSON value at most 17 with its type and index; any other value is
 * `Infinity`, which the exact size then settles.
 */
function _sizeBound(value: unknown, limit: number): number {
  switch (typeof value) {
    case "string":
      return 3 * value.length + 5;
    case "number":
    case "boolean":
    case "undefined":
      return 8;
    case "object":
      break;
    default:
      return Infinity;
  }
  if (value === null || value instanceof Date) return 8;
  if (!Array.isArray(value) && !isPlainDoc(value)) {
    const type = (value as { _bsontype?: string })._bsontype;
    return type === "ObjectId" || type === "Long" || type === "Int32" || type === "Double" ||
        type === "Timestamp" || type === "Decimal128"
      ? 16
      : Infinity;
  }
  let size = 5;
  for (const key in value) {
    size += 2 + 3 * key.length + _sizeBound((value as Doc)[key], limit - size);
    if (size > limit) return Infinity;
  }
  return size;
}

/** MongoDB stores no document over 16 MB: a `$merge` that would write one fails there. */
function _withinLimit(doc: Doc): Doc {
  // Most documents are far below the limit: a bound proves it without the exact size.
  if (_sizeBound(doc, MAX_BSON_SIZE) <= MAX_BSON_SIZE) return doc;
  const size = calculateObjectSize(doc, { ignoreUndefined: true });
  if (size > MAX_BSON_SIZE) {
    throw new CommandError(
      10334,
      `BSONObj size: ${size} (0x${
        size.toString(16).toUpperCase()
      }) is invalid. Size must be between 0 and ${MAX_BSON_SIZE}(16MB)`,
    );
  }
  return doc;
}

function _updateDescription(before: Doc, after: Doc): Doc {
  const updatedFields: Doc = {};
  for (const [field, value] of Object.entries(after)) {
    if (!(field in before) || valueKey(before[field]) !== valueKey(value)) {
      updatedFields[field] = value;
    }
  }
  const removedFields = Object.keys(before).filter((field) => !(field in after));
  return { updatedFields, removedFields, truncatedArrays: [] };
}

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions {
  /** The command's evaluated `let` variables. */
  variables?: Doc;
  /** The command's collation. */
  collation?: Collation;
}

/**
 * Runs an aggregation pipeline (without `$changeStream`).
 *
 * @param storage The server storage.
 * @param source Database and collection the pipeline reads.
 * @param pipeline The stages (validated with {@link validatePipeline}).
 * @param run `let` variables and collation.
 * @returns The output documents.
 */
export function runPipeline(
  storage: Storage,
  source: PipelineSource,
  pipeline: Doc[],
  run: RunPipelineOptions = {},
): Doc[] {
  const { variables, collation } = run;
  const resolver = (name: string) => storage.collection(source.db, name)?.all() ?? [];
  const options = mingoOptions(resolver, variables, collation);
  pipeline = pinNow(pipeline);
  try {
    let docs: Doc[];
    let i = 0;
    const first = pipeline[0];
    if (first && "$match" in first && isPlainDoc(first.$match)) {
      docs = findMatching(source.collection, first.$match, options);
      i = 1;
    } else if (first && "$documents" in first) {
      docs = [];
    } else {
      docs = source.collection?.all() ?? [];
    }
    let segment: Doc[] = [];
    const flush = () => {
      if (segment.length > 0) docs = runStages(docs, segment, options);
      segment = [];
    };
    for (; i < pipeline.length; i++) {
      const stage = pipeline[i]!;
      const lookup = stage.$lookup;
      if (
        isPlainDoc(lookup) && typeof lookup.localField === "string" &&
        typeof lookup.foreignField === "string"
      ) {
        flush();
        docs = _hashLookup(docs, lookup, storage, source.db, options);
      } else if ("$unionWith" in stage && _unionTarget(stage.$unionWith) !== undefined) {
        // Run natively, so the other collection's leading $match uses its indexes (mingo would
        // scan it whole for each union).
        flush();
        const { coll, pipeline: sub } = _unionTarget(stage.$unionWith)!;
        let other = coll === undefined ? undefined : storage.collection(source.db, coll);
        let stages = sub;
        if (isView(other)) {
          const view = resolveView(storage, other!);
          other = view.collection;
          stages = [...view.pipeline, ...sub];
        }
        docs = [
          ...docs,
          ...runPipeline(storage, { db: source.db, collection: other }, stages, run),
        ];
      } else if ("$out" in stage) {
        flush();
        _out(docs, stage.$out, storage, source.db);
        docs = [];
      } else if ("$merge" in stage) {
        flush();
        _merge(docs, stage.$merge, storage, source.db, options);
        docs = [];
      } else {
        segment.push(stage);
      }
    }
    flush();
    return docs;
  } catch (error) {
    throw asCommandError(error);
  }
}
