/**
 * Secondary indexes: a Map per index from a canonical key to the documents holding it,
 * so that equality lookups never scan, and unique constraints are enforced.
 *
 * @module
 */

import { type Doc, pathValues, valueKey } from "./bson_values.ts";
import { CommandError } from "./errors.ts";
import { compileFilter } from "./mingo_context.ts";

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

/** A secondary index (the `_id` index is the collection's own document map). */
export class Index {
  /** The specification. */
  readonly spec: IndexSpec;
  /** Key pattern fields, in order. */
  readonly fields: string[];
  /** Whether keys must be unique. */
  readonly unique: boolean;
  /** Canonical key → `_id` keys of the documents holding it. */
  readonly entries: Map<string, Set<string>> = new Map();
  readonly #sparse: boolean;
  readonly #partial: ((doc: Doc) => boolean) | undefined;

  /**
   * @param spec The index specification.
   */
  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.fields = Object.keys(spec.key);
    this.unique = spec.unique === true;
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
   * @returns The conflicting key, if any.
   */
  conflict(keys: IndexKey[], idKey: string): IndexKey | undefined {
    if (!this.unique) return undefined;
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
