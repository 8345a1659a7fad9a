/**
 * An order is its `_id`. This module says when two `_id` values are the same order, exactly as
 * MongoDB's unique `_id` index does, whatever their BSON type: every map or set of orders in the
 * tool (the watcher's micro-batch, the quarantine, verify, repair, the merge's outcome) keys by
 * {@link orderIdKey}, and every message names an order's `_id` with {@link describeOrderId}.
 *
 * Why our own and not canonical Extended JSON: EJSON keeps the type, so it tells `1` (int32) from
 * `NumberLong(1)`, `1.0` and `NumberDecimal("1.0")`, which MongoDB treats as one `_id` (numbers
 * compare by value across types), and the driver may hand back either form of the same id. Neither
 * bson nor mingo exports a key with MongoDB's equality, so it is written here, with a table of
 * every shape in its test.
 *
 * @module
 */

import { BSON, type Document } from "mongodb";

/**
 * A string that is equal for two `_id` values exactly when MongoDB holds them as the same `_id`:
 * numbers by mathematical value whatever their type (int32, int64, double, Decimal128), strings
 * by their bytes, ObjectIds, dates, binaries (UUIDs included) by value, documents field by field
 * in their order (as MongoDB compares them). Values of different kinds never share a key (`1` and
 * `"1"` differ).
 *
 * @param id An order's `_id`, as the driver decoded it.
 * @returns The key.
 * @example
 * ```ts
 * orderIdKey(1) === orderIdKey(BSON.Long.fromNumber(1)); // true: one _id for MongoDB
 * orderIdKey(1) === orderIdKey("1"); // false
 * ```
 */
export function orderIdKey(id: unknown): string {
  if (id === null || id === undefined) return "z";
  switch (typeof id) {
    case "string":
      return `s${JSON.stringify(id)}`;
    case "number":
      return `n${_doubleDecimal(id)}`;
    case "bigint":
      return `n${_normal(id, 0)}`;
    case "boolean":
      return id ? "b1" : "b0";
  }
  if (id instanceof Date) return `d${id.getTime()}`;
  if (id instanceof RegExp) return `r${JSON.stringify(`/${id.source}/${id.flags}`)}`;
  if (Array.isArray(id)) return `[${id.map(orderIdKey).join(",")}]`;
  const bsonType = (id as { _bsontype?: string })._bsontype;
  switch (bsonType) {
    case "ObjectId":
      return `o${(id as BSON.ObjectId).toHexString()}`;
    case "Int32":
    case "Double":
      return `n${_doubleDecimal((id as BSON.Int32 | BSON.Double).value)}`;
    case "Long":
      return `n${_normal(BigInt((id as BSON.Long).toString()), 0)}`;
    case "Decimal128":
      return `n${_decimalString((id as BSON.Decimal128).toString())}`;
    case "Binary": {
      const binary = id as BSON.Binary;
      return `x${binary.sub_type}:${binary.toString("base64")}`;
    }
    case "Timestamp":
      return `t${(id as BSON.Timestamp).toString()}`;
    case "MinKey":
      return "min";
    case "MaxKey":
      return "max";
    case "BSONRegExp": {
      const regex = id as BSON.BSONRegExp;
      return `r${JSON.stringify(`/${regex.pattern}/${regex.options}`)}`;
    }
    case undefined:
      break;
    default:
      // Code, DBRef, BSONSymbol: kinds no order id holds; their canonical form is exact enough.
      return `e${BSON.EJSON.stringify(id as Document, { relaxed: false })}`;
  }
  const fields = Object.entries(id as Record<string, unknown>).map(([name, value]) =>
    `${JSON.stringify(name)}:${orderIdKey(value)}`
  );
  return `{${fields.join(",")}}`;
}

/**
 * An order's `_id` as the MongoDB shell writes it, for messages and reports:
 * `ObjectId("65f…")`, `"A-1"`, `1`, `{ shop: 3, n: 12 }`, `UUID("…")`.
 *
 * @param id An order's `_id`.
 * @returns One line.
 */
export function describeOrderId(id: unknown): string {
  if (id === null || id === undefined) return String(id);
  if (typeof id === "string") return JSON.stringify(id);
  if (typeof id === "number" || typeof id === "bigint" || typeof id === "boolean") {
    return String(id);
  }
  if (id instanceof Date) return `ISODate("${id.toISOString()}")`;
  if (Array.isArray(id)) return `[ ${id.map(describeOrderId).join(", ")} ]`;
  const bsonType = (id as { _bsontype?: string })._bsontype;
  if (bsonType === "ObjectId") return `ObjectId("${(id as BSON.ObjectId).toHexString()}")`;
  if (bsonType === "Long") return `NumberLong(${(id as BSON.Long).toString()})`;
  if (bsonType === "Decimal128") return `NumberDecimal("${(id as BSON.Decimal128).toString()}")`;
  if (bsonType === "Binary") {
    const binary = id as BSON.Binary;
    return binary.sub_type === BSON.Binary.SUBTYPE_UUID
      ? `UUID("${binary.toUUID().toHexString(true)}")`
      : `BinData(${binary.sub_type}, "${binary.toString("base64")}")`;
  }
  if (bsonType !== undefined) {
    return BSON.EJSON.stringify(id as Document, { relaxed: true });
  }
  const fields = Object.entries(id as Record<string, unknown>).map(([name, value]) =>
    `${/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name)}: ${describeOrderId(value)}`
  );
  return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
}

// A double's exact decimal value (every finite double is a finite decimal), normalised so that
// a Decimal128 or an integer of the same value has the same text.
function _doubleDecimal(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isInteger(value)) return _normal(BigInt(value), 0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  // value = mantissa × 2^power, exactly.
  const mantissa = exponentBits === 0 ? fraction : fraction | (1n << 52n);
  const power = (exponentBits === 0 ? 1 : exponentBits) - 1075;
  // A non-integer has power < 0: mantissa / 2^-power = mantissa × 5^-power / 10^-power.
  const coefficient = mantissa * 5n ** BigInt(-power);
  return _normal(negative ? -coefficient : coefficient, power);
}

// Decimal128's text ("1.50", "-1.5E+3", "NaN", "-Infinity") in the same normal form.
function _decimalString(text: string): string {
  if (/^-?NaN$/.test(text)) return "NaN";
  if (text === "Infinity") return "Inf";
  if (text === "-Infinity") return "-Inf";
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/.exec(text);
  if (!match) return `?${text}`;
  const [, sign, whole, fraction = "", exponent = "0"] = match;
  const coefficient = BigInt(`${sign}${whole}${fraction}`);
  return _normal(coefficient, Number(exponent) - fraction.length);
}

// coefficient × 10^exponent, without trailing zeros in the coefficient; zero (and -0) is "0".
function _normal(coefficient: bigint, exponent: number): string {
  if (coefficient === 0n) return "0";
  let c = coefficient;
  let e = exponent;
  while (c % 10n === 0n) {
    c /= 10n;
    e++;
  }
  return e === 0 ? c.toString() : `${c}e${e}`;
}

/**
 * Orders two `_id` values as MongoDB sorts them (`sort: { _id: 1 }`) for the kinds order ids
 * take: numbers before strings before documents before binaries before ObjectIds before booleans
 * before dates; numbers by value, strings by code point, ObjectIds by their bytes, dates by time.
 * Documents and binaries fall back to their keys' order: consistent, if not MongoDB's own order,
 * which only decides which of two orders sharing a number a dry run names first.
 *
 * @param a One `_id`.
 * @param b Another.
 * @returns Negative, zero or positive, as `Array.prototype.sort` expects.
 */
export function compareOrderIds(a: unknown, b: unknown): number {
  const rankA = _rank(a);
  const rankB = _rank(b);
  if (rankA !== rankB) return rankA - rankB;
  if (rankA === _NUMBER) {
    const x = _asNumber(a);
    const y = _asNumber(b);
    if (x !== y) return x < y ? -1 : 1;
  } else if (rankA === _STRING) {
    const x = a as string;
    const y = b as string;
    if (x !== y) return x < y ? -1 : 1;
    return 0;
  } else if (rankA === _DATE) {
    return (a as Date).getTime() - (b as Date).getTime();
  }
  const x = orderIdKey(a);
  const y = orderIdKey(b);
  return x === y ? 0 : x < y ? -1 : 1;
}

const _NUMBER = 1;
const _STRING = 2;
const _DATE = 7;

function _rank(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === "number" || typeof value === "bigint") return _NUMBER;
  if (typeof value === "string") return _STRING;
  if (typeof value === "boolean") return 6;
  if (value instanceof Date) return _DATE;
  switch ((value as { _bsontype?: string })._bsontype) {
    case "Int32":
    case "Double":
    case "Long":
    case "Decimal128":
      return _NUMBER;
    case "Binary":
      return 4;
    case "ObjectId":
      return 5;
    case undefined:
      return 3;
    default:
      return 8;
  }
}

function _asNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return Number(String((value as { toString(): string }).toString()));
}
