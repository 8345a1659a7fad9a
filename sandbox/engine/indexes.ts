/**
 * Secondary indexes: a Map per index from a canonical key to the documents holding it,
 * so that equality lookups never scan, and unique constraints are enforced.
 *
 * @module
 */

import { type Doc, isPlainDoc, pathValues, valueKey } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { compileFilter } from "../query/mingo_context.ts";

/** An index specification as `listIndexes` returns it. */
export interface IndexSpec {
  /** Index version. */
  v: number;
  /** Key pattern, e.g. `{ numero_commande: 1 }`. */
  key: Doc;
  /** Index name, e.g. `numero_commande_1`. */
  name: string;
  /** Other options (`unique`, `sparse`, `partialFilterExpression`, ...). */
  [option: string]: unknown;
}

/** One index key of a document: its canonical string and the values it is made of. */
export interface IndexKey {
  /** Canonical key string. */
  key: string;
  /** Field values (one per key pattern field). */
  values: unknown[];
}

/**
 * Returns the default name MongoDB gives an index key pattern (`a_1_b_-1`).
 *
 * @param key The key pattern.
 * @returns The index name.
 */
export function defaultIndexName(key: Doc): string {
  return Object.entries(key).map(([field, dir]) => `${field}_${dir}`).join("_");
}

/**
 * Formats a value the way MongoDB's error messages show it (`"x"`, `12`, `ObjectId('...')`).
 *
 * @param value A BSON value.
 * @returns Its shell representation.
 */
export function shellValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Array.isArray(value)) return `[ ${value.map(shellValue).join(", ")} ]`;
  if (typeof value === "object") {
    const type = (value as { _bsontype?: string })._bsontype;
    if (type === "ObjectId") return `ObjectId('${String(value)}')`;
    if (type !== undefined) return String(value);
    const fields = Object.entries(value as Doc).map(([k, v]) => `${k}: ${shellValue(v)}`);
    return `{ ${fields.join(", ")} }`;
  }
  return String(value);
}

/** How a requested index compares with an existing one, as MongoDB's catalog decides it. */
export type IndexComparison = "different" | "equivalent" | "identical";

// Options that never make two indexes differ or not (build-time options and the name), and the
// identifying ones compared on their own (MongoDB's populateOptionsMapForEqualityCheck).
const _NOT_COMPARED = new Set([
  "key",
  "name",
  "v",
  "ns",
  "textIndexVersion",
  "2dsphereIndexVersion",
  "background",
  "dropDups",
  "collation",
  "partialFilterExpression",
  "unique",
  "sparse",
  "wildcardProjection",
]);

/**
 * Drops a `simple` collation from an index specification: MongoDB stores and lists an index
 * with the simple collation without one.
 *
 * @param spec A requested specification.
 * @returns The specification as the catalog keeps it.
 */
export function normalizeIndexSpec<T extends Doc>(spec: T): T {
  const collation = spec.collation;
  if (isPlainDoc(collation) && collation.locale === "simple") {
    const { collation: _simple, ...rest } = spec;
    return rest as T;
  }
  return spec;
}

/**
 * Compares a requested index with an existing one the way MongoDB 5.0+ does: the key pattern,
 * `unique`, `sparse`, the collation, `partialFilterExpression` and `wildcardProjection` identify
 * an index (two indexes may share a key pattern when one of these differs); the other options
 * (`expireAfterSeconds`, `hidden`, …) only make an equivalent index not identical.
 *
 * @param requested The requested specification (normalized).
 * @param existing The existing specification.
 * @returns `different`, `equivalent` (same identity, other options differ) or `identical`.
 */
export function compareIndexSpecs(requested: Doc, existing: Doc): IndexComparison {
  const same = (a: unknown, b: unknown) => valueKey(a ?? null) === valueKey(b ?? null);
  if (!same(requested.key, existing.key)) return "different";
  if (!same(requested.wildcardProjection, existing.wildcardProjection)) return "different";
  if ((requested.unique === true) !== (existing.unique === true)) return "different";
  if ((requested.sparse === true) !== (existing.sparse === true)) return "different";
  if (!same(requested.collation, existing.collation)) return "different";
  if (!same(requested.partialFilterExpression, existing.partialFilterExpression)) {
    return "different";
  }
  const options = (spec: Doc) =>
    Object.entries(spec).filter(([k]) => !_NOT_COMPARED.has(k)).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
  return valueKey(options(requested)) === valueKey(options(existing)) ? "identical" : "equivalent";
}

/**
 * The error MongoDB answers when a requested index conflicts with an existing one, or
 * `undefined` when it can be built (or is identical to one with the same name).
 *
 * @param requested The requested specification (normalized, with its name).
 * @param existing The collection's secondary index specifications.
 * @returns The conflict, if any.
 */
export function indexConflict(
  requested: IndexSpec,
  existing: readonly IndexSpec[],
): CommandError | undefined {
  const sameName = existing.find((spec) => spec.name === requested.name);
  if (sameName) {
    const comparison = compareIndexSpecs(requested, sameName);
    if (comparison === "different") {
      return new CommandError(
        86,
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${
          shellValue(requested)
        }, existing index: ${shellValue(sameName)}`,
      );
    }
    if (comparison === "equivalent") {
      return new CommandError(
        85,
        `An equivalent index already exists with the same name but different options. Requested index: ${
          shellValue(requested)
        }, existing index: ${shellValue(sameName)}`,
      );
    }
    return undefined;
  }
  for (const other of existing) {
    const comparison = compareIndexSpecs(requested, other);
    if (comparison === "equivalent") {
      return new CommandError(
        85,
        `An equivalent index already exists with a different name and options. Requested index: ${
          shellValue(requested)
        }, existing index: ${shellValue(other)}`,
      );
    }
    if (comparison === "identical") {
      return new CommandError(85, `Index already exists with a different name: ${other.name}`);
    }
  }
  return undefined;
}

/**
 * Builds the error of an index build that met duplicate keys, as MongoDB words it.
 *
 * @param ns The collection namespace (`db.coll`).
 * @param collectionUuid The collection's UUID, as MongoDB names it in the message.
 * @param duplicate The E11000 error of the first duplicate met.
 * @returns The error: code 11000 with `keyPattern` and `keyValue`.
 */
export function indexBuildError(
  ns: string,
  collectionUuid: string,
  duplicate: CommandError,
): CommandError {
  return new CommandError(
    duplicate.code,
    `Index build failed: ${crypto.randomUUID()}: Collection ${ns} ( ${collectionUuid} ) :: caused by :: ${duplicate.message}`,
    { extra: duplicate.extra },
  );
}

/** A secondary index (the `_id` index is the collection's own document map). */
export class Index {
  /** The specification. */
  readonly spec: IndexSpec;
  /** Key pattern fields, in order. */
  readonly fields: string[];
  /** Whether keys must be unique (`collMod` may make an index unique). */
  get unique(): boolean {
    return this.spec.unique === true;
  }
  /** Canonical key → `_id` keys of the documents holding it. */
  readonly entries: Map<string, Set<string>> = new Map();
  /** Uses of the index since it was built (`$indexStats`). */
  readonly accesses: { ops: number; since: Date } = { ops: 0, since: new Date() };
  readonly #sparse: boolean;
  readonly #partial: ((doc: Doc) => boolean) | undefined;

  /**
   * @param spec The index specification.
   */
  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.fields = Object.keys(spec.key);
    this.#sparse = spec.sparse === true;
    const partial = spec.partialFilterExpression as Doc | undefined;
    this.#partial = partial ? compileFilter(partial) : undefined;
  }

  /**
   * Computes the keys a document has in this index.
   *
   * @param doc The document.
   * @returns Its keys (several for array fields), or none when sparse or partial excludes it.
   */
  keysOf(doc: Doc): IndexKey[] {
    if (this.#partial && !this.#partial(doc)) return [];
    const perField = this.fields.map((field) => pathValues(doc, field));
    if (this.#sparse && perField.every((values) => values.length === 0)) return [];
    if (this.fields.length === 1) {
      const values = perField[0]!;
      if (values.length === 0) return [{ key: valueKey(null), values: [null] }];
      if (values.length === 1) return [{ key: valueKey(values[0]), values }];
      const seen = new Map<string, IndexKey>();
      for (const value of values) {
        const key = valueKey(value);
        if (!seen.has(key)) seen.set(key, { key, values: [value] });
      }
      return [...seen.values()];
    }
    let combos: unknown[][] = [[]];
    for (const values of perField) {
      const options = values.length === 0 ? [null] : values;
      combos = combos.flatMap((combo) => options.map((value) => [...combo, value]));
    }
    const seen = new Map<string, IndexKey>();
    for (const values of combos) {
      const key = JSON.stringify(values.map(valueKey));
      if (!seen.has(key)) seen.set(key, { key, values });
    }
    return [...seen.values()];
  }

  /**
   * Finds a key of `doc` already held by another document.
   *
   * @param keys The document's keys.
   * @param idKey The document's own `_id` key.
   * @param options `building`: the index is being built over existing documents, which a
   *   `prepareUnique` index accepts.
   * @returns The conflicting key, if any.
   */
  conflict(
    keys: IndexKey[],
    idKey: string,
    options: { building?: boolean } = {},
  ): IndexKey | undefined {
    // prepareUnique refuses new duplicate keys, keeping those already there (collMod converts
    // the index to unique once they are resolved).
    const prepared = this.spec.prepareUnique === true && options.building !== true;
    if (!this.unique && !prepared) return undefined;
    for (const k of keys) {
      const holders = this.entries.get(k.key);
      if (holders && (holders.size > 1 || !holders.has(idKey))) return k;
    }
    return undefined;
  }

  /**
   * Adds a document's keys.
   *
   * @param keys The keys from {@link keysOf}.
   * @param idKey The document's `_id` key.
   */
  add(keys: IndexKey[], idKey: string): void {
    for (const { key } of keys) {
      let holders = this.entries.get(key);
      if (!holders) this.entries.set(key, holders = new Set());
      holders.add(idKey);
    }
  }

  /**
   * Removes a document's keys.
   *
   * @param keys The keys from {@link keysOf}.
   * @param idKey The document's `_id` key.
   */
  remove(keys: IndexKey[], idKey: string): void {
    for (const { key } of keys) {
      const holders = this.entries.get(key);
      if (!holders) continue;
      holders.delete(idKey);
      if (holders.size === 0) this.entries.delete(key);
    }
  }

  /**
   * Builds MongoDB's duplicate key error for a conflicting key.
   *
   * @param ns The collection namespace (`db.coll`).
   * @param key The conflicting key.
   * @returns The error.
   */
  duplicateKeyError(ns: string, key: IndexKey): CommandError {
    return duplicateKeyError(ns, this.spec, key.values);
  }
}

/**
 * Builds MongoDB's duplicate key error (E11000).
 *
 * @param ns The collection namespace (`db.coll`).
 * @param spec The violated index.
 * @param values The duplicated values, one per key field.
 * @returns The error.
 */
export function duplicateKeyError(ns: string, spec: IndexSpec, values: unknown[]): CommandError {
  const fields = Object.keys(spec.key);
  const keyValue: Doc = {};
  const keyPattern: Doc = {};
  fields.forEach((field, i) => {
    keyValue[field] = values[i] ?? null;
    keyPattern[field] = spec.key[field];
  });
  const shown = fields.map((field) => `${field}: ${shellValue(keyValue[field])}`).join(", ");
  return new CommandError(
    11000,
    `E11000 duplicate key error collection: ${ns} index: ${spec.name} dup key: { ${shown} }`,
    { extra: { keyPattern, keyValue } },
  );
}
