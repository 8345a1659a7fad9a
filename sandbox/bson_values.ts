/**
 * MongoDB value semantics for deserialized BSON: canonical equality keys, the canonical
 * comparison order, path resolution through arrays, and copying that keeps BSON types.
 *
 * @module
 */

import type { Binary, Decimal128, Long, ObjectId, Timestamp } from "bson";

/** A deserialized BSON document. */
export type Doc = Record<string, unknown>;

function _bsonType(value: object): string | undefined {
  return (value as { _bsontype?: string })._bsontype;
}

function _decimalToNumber(value: Decimal128): number {
  return Number(value.toString());
}

/**
 * Returns the number a numeric BSON value stands for, or `undefined` for non-numbers.
 *
 * @param value A deserialized BSON value.
 * @returns Its numeric value.
 */
export function numericValue(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value === null || typeof value !== "object") return undefined;
  switch (_bsonType(value)) {
    case "Long":
      return (value as Long).toNumber();
    case "Int32":
    case "Double":
      return (value as { valueOf(): number }).valueOf();
    case "Decimal128":
      return _decimalToNumber(value as Decimal128);
  }
  return undefined;
}

/**
 * Returns a string that is equal for two values exactly when MongoDB considers them equal
 * (numbers across int/long/double/decimal, ObjectIds by bytes, documents field by field).
 *
 * @param value A deserialized BSON value; `undefined` (missing) keys like `null`.
 * @returns The canonical key.
 */
export function valueKey(value: unknown): string {
  switch (typeof value) {
    case "string":
      return "s" + value;
    case "number":
      return value === 0 ? "n0" : "n" + value;
    case "boolean":
      return value ? "b1" : "b0";
    case "undefined":
      return "z";
    case "bigint":
      return "n" + value;
  }
  if (value === null) return "z";
  if (value instanceof Date) return "d" + value.getTime();
  if (Array.isArray(value)) {
    let out = "[";
    for (const item of value) out += JSON.stringify(valueKey(item)) + ",";
    return out + "]";
  }
  if (value instanceof RegExp) return "r" + value.source + "/" + value.flags;
  const type = _bsonType(value as object);
  switch (type) {
    case "ObjectId":
      return "o" + (value as ObjectId).toHexString();
    case "Long": {
      const long = value as Long;
      const n = long.toNumber();
      return Number.isSafeInteger(n) ? (n === 0 ? "n0" : "n" + n) : "n" + long.toString();
    }
    case "Int32":
    case "Double":
    case "Decimal128": {
      const n = numericValue(value) ?? NaN;
      return n === 0 ? "n0" : "n" + n;
    }
    case "Timestamp": {
      const ts = value as Timestamp;
      return "t" + ts.t + ":" + ts.i;
    }
    case "Binary": {
      const bin = value as Binary;
      return "x" + bin.sub_type + ":" + bin.toString("base64");
    }
    case "BSONRegExp": {
      const re = value as { pattern: string; options: string };
      return "r" + re.pattern + "/" + re.options;
    }
    case "MinKey":
      return "\u0001";
    case "MaxKey":
      return "\u007f";
    case undefined:
      break;
    default:
      return type + ":" + String(value);
  }
  let out = "{";
  for (const [k, v] of Object.entries(value as Doc)) {
    out += JSON.stringify(k) + ":" + JSON.stringify(valueKey(v)) + ",";
  }
  return out + "}";
}

/**
 * Returns the rank of a value's type in MongoDB's comparison order (MinKey lowest,
 * then null, numbers, strings, objects, arrays, binary, ObjectId, boolean, date,
 * timestamp, regex, MaxKey).
 *
 * @param value A deserialized BSON value.
 * @returns The rank, 1-13.
 */
export function typeRank(value: unknown): number {
  switch (typeof value) {
    case "undefined":
      return 2;
    case "number":
    case "bigint":
      return 3;
    case "string":
      return 4;
    case "boolean":
      return 9;
  }
  if (value === null) return 2;
  if (value instanceof Date) return 10;
  if (Array.isArray(value)) return 6;
  if (value instanceof RegExp) return 12;
  switch (_bsonType(value as object)) {
    case "MinKey":
      return 1;
    case "Long":
    case "Int32":
    case "Double":
    case "Decimal128":
      return 3;
    case "BSONSymbol":
      return 4;
    case "Binary":
      return 7;
    case "ObjectId":
      return 8;
    case "Timestamp":
      return 11;
    case "BSONRegExp":
      return 12;
    case "MaxKey":
      return 13;
  }
  return 5;
}

function _cmp<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two values in MongoDB's canonical BSON order.
 *
 * @param a A deserialized BSON value.
 * @param b Another one.
 * @returns Negative, zero or positive.
 */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return _cmp(a, b);
  if (typeof a === "string" && typeof b === "string") return _cmp(a, b);
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 3: {
      const na = numericValue(a) ?? NaN;
      const nb = numericValue(b) ?? NaN;
      if (Number.isNaN(na)) return Number.isNaN(nb) ? 0 : -1;
      if (Number.isNaN(nb)) return 1;
      return _cmp(na, nb);
    }
    case 4:
      return _cmp(String(a), String(b));
    case 5:
      return _compareDocs(a as Doc, b as Doc);
    case 6: {
      const xs = a as unknown[];
      const ys = b as unknown[];
      for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
        const c = compareValues(xs[i], ys[i]);
        if (c !== 0) return c;
      }
      return xs.length - ys.length;
    }
    case 7: {
      const x = a as Binary;
      const y = b as Binary;
      if (x.length() !== y.length()) return x.length() - y.length();
      if (x.sub_type !== y.sub_type) return x.sub_type - y.sub_type;
      return _cmp(x.toString("hex"), y.toString("hex"));
    }
    case 8:
      return _cmp((a as ObjectId).toHexString(), (b as ObjectId).toHexString());
    case 9:
      return Number(a) - Number(b);
    case 10:
      return _cmp((a as Date).getTime(), (b as Date).getTime());
    case 11: {
      const x = a as Timestamp;
      const y = b as Timestamp;
      return x.t !== y.t ? _cmp(x.t, y.t) : _cmp(x.i, y.i);
    }
    case 12:
      return _cmp(String(a), String(b));
  }
  return 0;
}

function _compareDocs(a: Doc, b: Doc): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const fa = ka[i]!;
    const fb = kb[i]!;
    const rank = typeRank(a[fa]) - typeRank(b[fb]);
    if (rank !== 0) return rank;
    const name = _cmp(fa, fb);
    if (name !== 0) return name;
    const value = compareValues(a[fa], b[fb]);
    if (value !== 0) return value;
  }
  return ka.length - kb.length;
}

/**
 * Tells whether a value is a plain document (not an array, date or BSON value class).
 *
 * @param value Any value.
 * @returns `true` for plain objects.
 */
export function isPlainDoc(value: unknown): value is Doc {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep-copies a document; BSON value objects (ObjectId, Long, Date...) are shared,
 * as the sandbox never mutates them.
 *
 * @param value The value to copy.
 * @returns The copy.
 */
export function cloneValue<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  if (isPlainDoc(value)) {
    const out: Doc = {};
    for (const k in value) out[k] = cloneValue(value[k]);
    return out as T;
  }
  return value;
}

/**
 * Collects the values a dotted path reaches in a document, descending into arrays the way
 * MongoDB does for queries and index keys; arrays met at the end of the path are expanded.
 *
 * @param doc The document.
 * @param path A dotted path such as `"items.menu_id"`.
 * @returns The values found (empty when the path is missing everywhere).
 */
export function pathValues(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  let parts = _pathParts.get(path);
  if (!parts) {
    parts = path.split(".").map((name) => ({
      name,
      index: /^\d+$/.test(name) ? Number(name) : -1,
    }));
    if (_pathParts.size > 10_000) _pathParts.clear();
    _pathParts.set(path, parts);
  }
  _collect(doc, parts, 0, out);
  return out;
}

interface _PathPart {
  name: string;
  index: number;
}

const _pathParts = new Map<string, _PathPart[]>();

function _collect(value: unknown, parts: _PathPart[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      for (const v of value) out.push(v);
    } else if (value !== undefined) {
      out.push(value);
    }
    return;
  }
  if (Array.isArray(value)) {
    const part = parts[i]!;
    if (part.index >= 0 && part.index < value.length) {
      _collect(value[part.index], parts, i + 1, out);
    }
    for (const item of value) if (isPlainDoc(item)) _collect(item, parts, i, out);
    return;
  }
  if (!isPlainDoc(value)) return;
  const next = value[parts[i]!.name];
  if (next === undefined) return;
  _collect(next, parts, i + 1, out);
}

/**
 * Reads a dotted path without descending into arrays (plain documents only).
 *
 * @param doc The document.
 * @param path A dotted path.
 * @returns The value, or `undefined`.
 */
export function getPath(doc: unknown, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split(".")) {
    if (Array.isArray(value) && /^\d+$/.test(part)) value = value[Number(part)];
    else if (isPlainDoc(value)) value = value[part];
    else return undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * Writes a dotted path, creating intermediate documents.
 *
 * @param doc The document to change.
 * @param path A dotted path.
 * @param value The value to set.
 */
export function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  let target: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const next = target[part];
    if (!isPlainDoc(next)) target[part] = {};
    target = target[part] as Doc;
  }
  target[parts[parts.length - 1]!] = value;
}
