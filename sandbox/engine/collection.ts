/**
 * A collection: documents in natural order keyed by `_id`, its secondary indexes, and the
 * index-assisted candidate search that equality filters use instead of a scan.
 *
 * @module
 */

import { ObjectId, UUID } from "bson";
import { compareValues, type Doc, isPlainDoc, valueKey } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import {
  defaultIndexName,
  duplicateKeyError,
  Index,
  indexBuildError,
  indexConflict,
  type IndexKey,
  type IndexSpec,
  normalizeIndexSpec,
} from "./indexes.ts";
import { compileFilter } from "../query/mingo_context.ts";
import type { Oplog } from "./oplog.ts";

const _ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: "_id_" };

/** Equality values a filter pins a field to, or `undefined` when it does not. */
function _equalityValues(condition: unknown, allowNull: boolean): unknown[] | undefined {
  const usable = (v: unknown) =>
    !(v instanceof RegExp) && !Array.isArray(v) && (allowNull || (v !== null && v !== undefined)) &&
    !(isPlainDoc(v) && Object.keys(v).some((k) => k.startsWith("$")));
  if (isPlainDoc(condition) && Object.keys(condition).some((k) => k.startsWith("$"))) {
    const keys = Object.keys(condition);
    if (keys.length !== 1) return undefined;
    if (keys[0] === "$eq") return usable(condition.$eq) ? [condition.$eq] : undefined;
    if (keys[0] === "$in" && Array.isArray(condition.$in)) {
      return condition.$in.every(usable) ? condition.$in : undefined;
    }
    return undefined;
  }
  return usable(condition) ? [condition] : undefined;
}

/** Collects `field → condition` pairs from a filter's top level and its `$and` branches. */
function _conditions(filter: Doc, out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  for (const [field, condition] of Object.entries(filter)) {
    if (field === "$and" && Array.isArray(condition)) {
      for (const branch of condition) if (isPlainDoc(branch)) _conditions(branch, out);
    } else if (!field.startsWith("$")) {
      out.push([field, condition]);
    }
  }
  return out;
}

/** Uses of an index, as `$indexStats` reports them. */
export interface IndexAccesses {
  /** Operations that used the index. */
  ops: number;
  /** When counting started (index creation or server start). */
  since: Date;
}

/** How a filter's candidates were found ({@link Collection.plan}). */
export interface QueryPlan {
  /** Candidate documents. */
  docs: Doc[];
  /** Whether the candidates are exactly the matches. */
  exact: boolean;
  /** The index used (`_id_` or a secondary index's name); absent for a collection scan. */
  index?: string;
  /** The indexed field the bounds are on. */
  indexField?: string;
  /** The equality values looked up in the index. */
  indexValues?: unknown[];
  /** Index keys examined (0 for a collection scan). */
  keysExamined: number;
}

interface _Found {
  docs: Doc[];
  index: string;
  field: string;
  values: unknown[];
}

/** A collection of documents with its indexes. */
export class Collection {
  #db: string;
  #name: string;
  /** Collection UUID (as `listCollections` reports it). */
  readonly uuid: UUID = new UUID();
  /** Creation options, as `collMod` left them. */
  options: Doc;
  /** Documents in natural order, keyed by the canonical key of their `_id`. */
  readonly docs: Map<string, Doc> = new Map();
  /** Secondary indexes by name. */
  readonly indexes: Map<string, Index> = new Map();
  /** Incremented on every write (caches compare it). */
  version = 0;
  /** Uses of the `_id_` index since the collection was created (`$indexStats`). */
  readonly idAccesses: IndexAccesses = { ops: 0, since: new Date() };
  readonly #oplog: Oplog;
  #docArray: Doc[] | undefined;
  #docArrayVersion = -1;

  /**
   * @param db Database name.
   * @param name Collection name.
   * @param oplog The oplog writes are recorded in.
   * @param options Creation options.
   */
  constructor(db: string, name: string, oplog: Oplog, options: Doc = {}) {
    this.#db = db;
    this.#name = name;
    this.#oplog = oplog;
    this.options = options;
  }

  /** Whether writes record pre- and post-images (`changeStreamPreAndPostImages`). */
  get recordsImages(): boolean {
    const setting = this.options.changeStreamPreAndPostImages;
    return isPlainDoc(setting) && setting.enabled === true;
  }

  /**
   * Checks a document against the collection's validator, as MongoDB does on insert and
   * update (`validationLevel` `strict` by default, `moderate` skipping documents that did
   * not pass before; `validationAction: "warn"` and `off` accept everything).
   *
   * @param doc The document to store.
   * @param before The version it replaces, for updates.
   */
  validate(doc: Doc, before?: Doc): void {
    const validator = this.options.validator;
    if (!isPlainDoc(validator)) return;
    const level = this.options.validationLevel ?? "strict";
    if (level === "off" || this.options.validationAction === "warn") return;
    if (this.#validatorSpec !== validator) {
      this.#validatorTest = compileFilter(validator);
      this.#validatorSpec = validator;
    }
    const test = this.#validatorTest!;
    if (test(doc)) return;
    if (level === "moderate" && before && !test(before)) return;
    throw new CommandError(121, "Document failed validation", {
      extra: {
        errInfo: {
          failingDocumentId: doc._id,
          details: { operatorName: "$and", clausesNotSatisfied: _failedClauses(validator, doc) },
        },
      },
    });
  }

  #validatorSpec: Doc | undefined;
  #validatorTest: ((doc: Doc) => boolean) | undefined;

  /**
   * Records a DDL event (create, createIndexes, dropIndexes, modify) in the oplog, for the
   * change streams opened with `showExpandedEvents`.
   *
   * @param op The event.
   * @param operationDescription What it did.
   * @param stateBeforeChange For `modify`: the options before.
   */
  recordDdl(
    op: "create" | "createIndexes" | "dropIndexes" | "modify",
    operationDescription: Doc,
    stateBeforeChange?: Doc,
  ): void {
    this.#oplog.append({
      op,
      db: this.db,
      coll: this.name,
      uuid: this.uuid,
      operationDescription,
      ...(stateBeforeChange ? { stateBeforeChange } : {}),
    });
  }

  /** Database name. */
  get db(): string {
    return this.#db;
  }

  /** Collection name. */
  get name(): string {
    return this.#name;
  }

  /**
   * Gives the collection a new namespace, keeping its documents, indexes and UUID. Only the
   * storage calls this, after moving the collection in its catalog.
   *
   * @param db The new database name.
   * @param name The new collection name.
   */
  moveTo(db: string, name: string): void {
    this.#db = db;
    this.#name = name;
  }

  /** The namespace, `db.coll`. */
  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  /**
   * Returns the documents as an array in natural order (cached until the next write).
   *
   * @returns The documents; do not mutate.
   */
  all(): Doc[] {
    if (this.#docArrayVersion !== this.version || !this.#docArray) {
      this.#docArray = [...this.docs.values()];
      this.#docArrayVersion = this.version;
    }
    return this.#docArray;
  }

  /**
   * Lists the index specifications, `_id_` first.
   *
   * @returns The specifications.
   */
  indexSpecs(): IndexSpec[] {
    const clustered = this.options.clusteredIndex;
    const idIndex: IndexSpec = isPlainDoc(clustered)
      ? {
        v: 2,
        key: { _id: 1 },
        name: typeof clustered.name === "string" ? clustered.name : "_id_",
        unique: true,
        clustered: true,
      }
      : _ID_INDEX;
    return [idIndex, ...[...this.indexes.values()].map((index) => index.spec)];
  }

  /**
   * Whether this is a time series collection: its documents are measurements, stored in
   * buckets by mongod, so `_id` is not unique and has no index.
   */
  get isTimeseries(): boolean {
    return isPlainDoc(this.options.timeseries);
  }

  /** The key a stored document is held under: its `_id`'s, or its own in a time series. */
  #storageKey(doc: Doc): string {
    return this.#measurementKeys.get(doc) ?? valueKey(doc._id);
  }

  readonly #measurementKeys = new WeakMap<Doc, string>();
  #measurements = 0;
  readonly #positions = new WeakMap<Doc, number>();
  #inserted = 0;

  /**
   * Where a version of a document stands in natural order (insertion order; an update keeps
   * the place), also for versions no longer stored, as the oplog holds them.
   *
   * @param doc A document version this collection stored.
   * @returns Its position, or `Infinity` when unknown.
   */
  naturalPosition(doc: Doc): number {
    return this.#positions.get(doc) ?? Infinity;
  }

  /**
   * Creates an index, building it over the existing documents.
   *
   * @param spec The requested specification (`key`, optional `name`, options).
   * @returns `true` when created, `false` when an identical index existed.
   */
  createIndex(spec: Doc): boolean {
    const key = spec.key;
    if (!isPlainDoc(key) || Object.keys(key).length === 0) {
      throw new CommandError(67, "Index keys cannot be an empty object");
    }
    const name = typeof spec.name === "string" ? spec.name : defaultIndexName(key);
    const { v: _v, key: _key, name: _name, ...options } = normalizeIndexSpec(spec);
    const full: IndexSpec = { v: 2, key, name, ...options };
    if (name === "_id_" || (Object.keys(key).length === 1 && "_id" in key && !spec.unique)) {
      return false;
    }
    const conflict = indexConflict(full, [...this.indexes.values()].map((index) => index.spec));
    if (conflict) throw conflict;
    if (this.indexes.has(name)) return false;
    const index = new Index(full);
    for (const [idKey, doc] of this.docs) {
      const keys = index.keysOf(doc);
      const duplicate = index.conflict(keys, idKey, { building: true });
      if (duplicate) {
        throw indexBuildError(
          this.ns,
          this.uuid.toHexString(true),
          index.duplicateKeyError(this.ns, duplicate),
        );
      }
      index.add(keys, idKey);
    }
    this.indexes.set(name, index);
    return true;
  }

  /**
   * Drops an index by name.
   *
   * @param name The index name.
   */
  dropIndex(name: string): void {
    if (name === "_id_") throw new CommandError(72, "cannot drop _id index");
    if (!this.indexes.delete(name)) {
      throw new CommandError(27, `index not found with name [${name}]`);
    }
  }

  /**
   * Inserts a document (its `_id` already set and first).
   *
   * @param doc The document; the collection keeps it, so the caller must not change it later.
   */
  insert(doc: Doc): void {
    const id = doc._id;
    if (Array.isArray(id)) throw new CommandError(53, "can't use an array for _id");
    if (isPlainDoc(id) && Object.keys(id).some((k) => k.startsWith("$"))) {
      throw new CommandError(52, "_id fields may not contain '$'-prefixed fields");
    }
    let idKey = valueKey(id);
    if (this.isTimeseries) {
      this.#checkMeasurement(doc);
      idKey = `measurement ${++this.#measurements}`;
      this.#measurementKeys.set(doc, idKey);
    } else if (this.docs.has(idKey)) throw duplicateKeyError(this.ns, _ID_INDEX, [id]);
    const allKeys: Array<[Index, IndexKey[]]> = [];
    for (const index of this.indexes.values()) {
      const keys = index.keysOf(doc);
      const conflict = index.conflict(keys, idKey);
      if (conflict) throw index.duplicateKeyError(this.ns, conflict);
      allKeys.push([index, keys]);
    }
    for (const [index, keys] of allKeys) index.add(keys, idKey);
    this.docs.set(idKey, doc);
    this.#positions.set(doc, ++this.#inserted);
    this.version++;
    this.#oplog.append({
      op: "insert",
      db: this.db,
      coll: this.name,
      documentKey: { _id: id },
      after: doc,
      uuid: this.uuid,
    });
  }

  /**
   * Replaces a stored document by a new version with the same `_id`.
   *
   * @param before The stored document.
   * @param after Its new version.
   * @param updateDescription What changed, for an update event; absent for a replacement.
   */
  replace(before: Doc, after: Doc, updateDescription?: Doc): void {
    const idKey = this.#storageKey(before);
    if (this.isTimeseries) {
      this.#checkMeasurement(after);
      this.#measurementKeys.set(after, idKey);
    }
    const changes: Array<[Index, IndexKey[], IndexKey[]]> = [];
    for (const index of this.indexes.values()) {
      const oldKeys = index.keysOf(before);
      const newKeys = index.keysOf(after);
      const conflict = index.conflict(newKeys, idKey);
      if (conflict) throw index.duplicateKeyError(this.ns, conflict);
      changes.push([index, oldKeys, newKeys]);
    }
    for (const [index, oldKeys, newKeys] of changes) {
      index.remove(oldKeys, idKey);
      index.add(newKeys, idKey);
    }
    this.docs.set(idKey, after);
    this.#positions.set(after, this.#positions.get(before) ?? ++this.#inserted);
    this.version++;
    this.#oplog.append({
      op: updateDescription ? "update" : "replace",
      db: this.db,
      coll: this.name,
      documentKey: { _id: after._id },
      before,
      after,
      ...(updateDescription ? { updateDescription } : {}),
      uuid: this.uuid,
      ...(this.recordsImages ? { images: true } : {}),
    });
  }

  /**
   * Deletes a stored document.
   *
   * @param doc The stored document.
   */
  delete(doc: Doc): void {
    const idKey = this.#storageKey(doc);
    for (const index of this.indexes.values()) index.remove(index.keysOf(doc), idKey);
    this.docs.delete(idKey);
    this.version++;
    this.#oplog.append({
      op: "delete",
      db: this.db,
      coll: this.name,
      documentKey: { _id: doc._id },
      before: doc,
      uuid: this.uuid,
      ...(this.recordsImages ? { images: true } : {}),
    });
  }

  /**
   * Returns the documents a filter can match, using the `_id` map or a single-field index
   * for equality and `$in` conditions, or every document when no index applies.
   * The caller still applies the full filter to the candidates.
   *
   * @param filter A query filter.
   * @returns Candidate documents, in index order when an index was used.
   */
  candidates(filter: Doc): Doc[] {
    return this.plan(filter).docs;
  }

  /**
   * Like {@link candidates}, also telling whether the candidates are exactly the matches
   * (the filter is a single equality or `$in` condition answered by an index).
   *
   * @param filter A query filter.
   * @returns The candidates and whether they need no further filtering.
   */
  plan(filter: Doc, options: { record?: boolean } = {}): QueryPlan {
    const conditions = _conditions(filter);
    const single = conditions.length === 1 && Object.keys(filter).length === 1;
    const found = this.#plan(conditions);
    if (!found) return { docs: this.all(), exact: false, keysExamined: 0 };
    if (options.record !== false) {
      const accesses = found.index === "_id_"
        ? this.idAccesses
        : this.indexes.get(found.index)?.accesses;
      if (accesses) accesses.ops++;
    }
    return {
      docs: found.docs,
      exact: single,
      index: found.index,
      indexField: found.field,
      indexValues: found.values,
      keysExamined: found.docs.length,
    };
  }

  #plan(conditions: Array<[string, unknown]>): _Found | undefined {
    let best: _Found | undefined;
    for (const [field, condition] of conditions) {
      if (field === "_id" && !this.isTimeseries) {
        const values = _equalityValues(condition, true);
        if (!values) continue;
        const docs = this.#byId(values);
        if (!best || docs.length < best.docs.length) {
          best = { docs, index: "_id_", field, values };
        }
        if (best.docs.length <= 1) return best;
        continue;
      }
      const index = this.#singleFieldIndex(field);
      if (!index) continue;
      const values = _equalityValues(condition, false);
      if (!values) continue;
      const docs = this.#byIndex(index, values);
      if (!best || docs.length < best.docs.length) {
        best = { docs, index: index.spec.name, field, values };
      }
      if (best.docs.length === 0) return best;
    }
    return best;
  }

  /**
   * Looks documents up by `_id` values.
   *
   * @param values `_id` values.
   * @returns The documents found, ordered by `_id`.
   */
  byIds(values: unknown[]): Doc[] {
    return this.#byId(values);
  }

  /**
   * Returns the single-field index on a path, if there is one.
   *
   * @param field A dotted path.
   * @returns The index.
   */
  indexOn(field: string): Index | undefined {
    return this.#singleFieldIndex(field);
  }

  /** A measurement must hold its time field as a date, as mongod requires. */
  #checkMeasurement(doc: Doc): void {
    const timeField = (this.options.timeseries as Doc).timeField;
    if (typeof timeField === "string" && !(doc[timeField] instanceof Date)) {
      throw new CommandError(
        2,
        `'${timeField}' must be present and contain a valid BSON UTC datetime value`,
      );
    }
  }

  #singleFieldIndex(field: string): Index | undefined {
    for (const index of this.indexes.values()) {
      if (
        index.fields.length === 1 && index.fields[0] === field &&
        !index.spec.partialFilterExpression
      ) return index;
    }
    return undefined;
  }

  #byId(values: unknown[]): Doc[] {
    if (values.length === 1) {
      const doc = this.docs.get(valueKey(values[0]));
      return doc ? [doc] : [];
    }
    const seen = new Set<string>();
    const out: Doc[] = [];
    for (const value of values) {
      const key = valueKey(value);
      if (seen.has(key)) continue;
      seen.add(key);
      const doc = this.docs.get(key);
      if (doc) out.push(doc);
    }
    return out.sort((a, b) => compareValues(a._id, b._id));
  }

  #byIndex(index: Index, values: unknown[]): Doc[] {
    const seen = new Set<string>();
    const out: Doc[] = [];
    for (const value of values) {
      const holders = index.entries.get(valueKey(value));
      if (!holders) continue;
      for (const idKey of holders) {
        if (seen.has(idKey)) continue;
        seen.add(idKey);
        const doc = this.docs.get(idKey);
        if (doc) out.push(doc);
      }
    }
    return out;
  }
}

/** The top-level clauses of a validator a document fails, for `errInfo.details`. */
function _failedClauses(validator: Doc, doc: Doc): Doc[] {
  const failed: Doc[] = [];
  for (const [field, condition] of Object.entries(validator)) {
    const clause = { [field]: condition };
    if (!compileFilter(clause)(doc)) {
      failed.push(field.startsWith("$") ? { operatorName: field } : { fieldName: field });
    }
  }
  return failed;
}

/**
 * Puts `_id` first in a document, generating an ObjectId when it has none.
 *
 * @param doc A document to insert.
 * @returns The document with `_id` first (the same object when already so).
 */
export function withIdFirst(doc: Doc): Doc {
  if ("_id" in doc) {
    for (const k in doc) {
      if (k === "_id") return doc;
      break;
    }
    const { _id, ...rest } = doc;
    return { _id, ...rest };
  }
  return { _id: new ObjectId(), ...doc };
}
