/**
 * Aggregation pipelines: mingo evaluates the stages, except a leading `$match` (answered
 * from the `_id` map or an index when it pins fields by equality), `$lookup` with
 * `localField`/`foreignField` (a hash join over the foreign collection's `_id` map, an index,
 * or a cached hash table), and `$out`.
 *
 * @module
 */

import { Aggregator } from "mingo/aggregator";
import { evalExpr } from "mingo/core";
import type { Options } from "mingo/types";
import { cloneValue, type Doc, isPlainDoc, pathValues, setPath, valueKey } from "./bson_values.ts";
import { SANDBOX_KNOWN_STAGES } from "./change_streams.ts";
import { type Collection, withIdFirst } from "./collection.ts";
import { asCommandError, CommandError } from "./errors.ts";
import { compileFilter, mingoOptions, pinNow, runStages } from "./mingo_context.ts";
import type { Storage } from "./storage.ts";

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
  const { docs: candidates, exact } = collection.plan(filter);
  if (exact || Object.keys(filter).length === 0) return candidates;
  const predicate = compileFilter(filter, options);
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
  const out: Doc[] = new Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i]!;
    const values = pathValues(doc, localField);
    const keys = values.length === 0 ? ["z"] : [...new Set(values.map(valueKey))];
    let matched = find(keys);
    if (subPipeline) {
      const variables = letSpec ? _evalLet(doc, letSpec, options) : undefined;
      matched = new Aggregator(subPipeline as never, { ...options, variables }).run(
        matched,
      ) as Doc[];
    }
    if (as.includes(".")) {
      const copy = cloneValue(doc);
      setPath(copy, as, matched);
      out[i] = copy;
    } else {
      out[i] = { ...doc, [as]: matched };
    }
  }
  return out;
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

/**
 * Runs an aggregation pipeline (without `$changeStream`).
 *
 * @param storage The server storage.
 * @param source Database and collection the pipeline reads.
 * @param pipeline The stages (validated with {@link validatePipeline}).
 * @param variables `let` variables.
 * @returns The output documents.
 */
export function runPipeline(
  storage: Storage,
  source: PipelineSource,
  pipeline: Doc[],
  variables?: Doc,
): Doc[] {
  const resolver = (name: string) => storage.collection(source.db, name)?.all() ?? [];
  const options = mingoOptions(resolver, variables);
  pipeline = pinNow(pipeline);
  try {
    let docs: Doc[];
    let i = 0;
    const first = pipeline[0];
    if (first && "$match" in first && isPlainDoc(first.$match) && !variables) {
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
      } else if ("$out" in stage) {
        flush();
        _out(docs, stage.$out, storage, source.db);
        docs = [];
      } else if ("$merge" in stage) {
        throw new CommandError(59, "$merge is not supported by the sandbox");
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
