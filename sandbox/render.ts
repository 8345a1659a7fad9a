/**
 * BSON values as mongod prints them in its messages (`BSONElement::toString`): what a reply's
 * error text shows of a command or a value, e.g. `ObjectId('…')`, `{ a: 1 }`, `UUID("…")`.
 *
 * @module
 */

import { type Doc, isPlainDoc } from "./bson_values.ts";

/** mongod's `BSONObj::maxToStringRecursionDepth`. */
const _MAX_DEPTH = 100;

function _hex(bytes: Uint8Array, upper: boolean): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return upper ? hex.toUpperCase() : hex;
}

/** A double as mongod's `appendDoubleNice` prints it (`%.16g`, `.0` added to whole numbers). */
function _double(value: number): string {
  if (Number.isNaN(value)) return "nan.0";
  if (!Number.isFinite(value)) return value > 0 ? "inf.0" : "-inf.0";
  const text = String(Number(value.toPrecision(16)));
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function _string(value: string): string {
  // mongod cuts strings of 160 bytes or more to their first 150.
  return new TextEncoder().encode(value).length >= 160
    ? `"${value.slice(0, 150)}..."`
    : `"${value}"`;
}

function _binary(value: { sub_type: number; buffer: Uint8Array; position: number }): string {
  const bytes = value.buffer.subarray(0, value.position);
  if (value.sub_type === 4 && bytes.length === 16) {
    const h = _hex(bytes, false);
    return `UUID("${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }")`;
  }
  return bytes.length > 80
    ? `BinData(${value.sub_type}, ${_hex(bytes.subarray(0, 70), true)}...)`
    : `BinData(${value.sub_type}, ${_hex(bytes, true)})`;
}

/** A BSON value as mongod's `BSONElement::toString` prints it (BSON types by `_bsontype`). */
function _render(value: unknown, depth: number): string {
  if (depth > _MAX_DEPTH) return "...";
  switch (typeof value) {
    case "string":
      return _string(value);
    case "number":
      return Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31
        ? String(value) // sent as an int32
        : _double(value);
    case "boolean":
      return String(value);
    case "bigint":
      return String(value);
    case "undefined":
      return "undefined";
  }
  if (value === null) return "null";
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof RegExp) return `/${value.source}/${[...value.flags].sort().join("")}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[ ${value.map((v) => _render(v, depth + 1)).join(", ")} ]`;
  }
  const bson = value as Record<string, unknown> & { _bsontype?: string };
  switch (bson._bsontype) {
    case "ObjectId":
      return `ObjectId('${String(value)}')`;
    case "Binary":
      return _binary(value as never);
    case "Timestamp":
      return `Timestamp(${String(bson.t ?? bson.high)}, ${String(bson.i ?? bson.low)})`;
    case "Long":
    case "Decimal128":
      return String(value);
    case "Int32":
      return String(bson.value);
    case "Double":
      return _double(Number(bson.value));
    case "MinKey":
      return "MinKey";
    case "MaxKey":
      return "MaxKey";
    case "BSONRegExp":
      return `/${String(bson.pattern)}/${String(bson.options)}`;
    case "BSONSymbol":
      return _string(String(bson.value));
    case "Code": {
      const code = String(bson.code);
      if (bson.scope) return `CodeWScope( ${code}, ${_render(bson.scope, depth + 1)})`;
      return code.length >= 80 ? `${code.slice(0, 70)}...` : code;
    }
    case "DBRef": {
      // On the wire it is a plain { $ref, $id[, $db] } document.
      const ref: Doc = { $ref: bson.collection, $id: bson.oid };
      if (bson.db) ref.$db = bson.db;
      Object.assign(ref, bson.fields ?? {});
      return _render(ref, depth);
    }
  }
  if (!isPlainDoc(value)) return String(value);
  const fields = Object.entries(value);
  if (fields.length === 0) return "{}";
  return `{ ${fields.map(([k, v]) => `${k}: ${_render(v, depth + 1)}`).join(", ")} }`;
}

/**
 * A BSON value as mongod prints it in a message.
 *
 * @param value The value (BSON types by `_bsontype`, documents field by field).
 * @returns e.g. `ObjectId('65f…')`, `{ region: "nord", n: 1 }`.
 */
export function renderValue(value: unknown): string {
  return _render(value, 0);
}
