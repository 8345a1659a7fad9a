/**
 * The matching rules of MongoDB's unified test format ("Evaluating Matches"): root documents may
 * carry extra fields, nested ones may not, arrays match element by element, numbers compare by
 * value across int, long and double, and the special operators `$$exists`, `$$type`,
 * `$$unsetOrMatches`, `$$matchesEntity`, `$$sessionLsid`, `$$lte`, `$$matchAsRoot`,
 * `$$matchAsDocument` and `$$matchesHexBytes` stand in for values a test cannot know.
 *
 * Pure: no I/O, no driver objects beyond duck-typed BSON values.
 *
 * @module
 */

import { BSON } from "mongodb";

const { EJSON } = BSON;

/** A failed match, naming where in the expected value it failed */
export class MatchError extends Error {
  /** Path of the mismatch, e.g. `expectResult[0].x` */
  readonly path: string;

  /**
   * @param path where the mismatch is
   * @param detail what was expected and what was found
   */
  constructor(path: string, detail: string) {
    super(path === "" ? detail : `${path}: ${detail}`);
    this.name = "MatchError";
    this.path = path;
  }
}

/** Looks up entities for `$$matchesEntity` and `$$sessionLsid` */
export interface EntityLookup {
  /**
   * @param name the entity's id
   * @returns the entity's value for matching (a BSON value, or a session's lsid document)
   */
  valueOf(name: string, kind: "value" | "sessionLsid"): unknown;
}

/** Options of {@linkcode assertMatches} */
export interface MatchOptions {
  /**
   * Whether the actual value is a root-level document (extra fields allowed), or, for an array,
   * an iterable result whose elements are root-level documents
   * @default false
   */
  root?: boolean;
  /**
   * Label of the value in error messages
   * @default ""
   */
  path?: string;
  /** Resolves entity names used by `$$matchesEntity` and `$$sessionLsid` */
  entities?: EntityLookup;
}

interface _Context {
  root: boolean;
  path: string;
  entities: EntityLookup | undefined;
}

/**
 * Asserts that `actual` matches `expected` under the unified test format's rules.
 *
 * @param expected the expected value from a test file (Extended JSON, already parsed)
 * @param actual the value the driver returned
 * @param options root-level handling, a path label and entity lookup
 * @throws {MatchError} on the first mismatch
 * @example
 * ```ts
 * assertMatches({ x: 1 }, { x: 1.0, y: 2 }, { root: true }); // passes: extra root field, 1 == 1.0
 * ```
 */
export function assertMatches(
  expected: unknown,
  actual: unknown,
  options: MatchOptions = {},
): void {
  const ctx: _Context = {
    root: options.root ?? false,
    path: options.path ?? "",
    entities: options.entities,
  };
  if (ctx.root && Array.isArray(expected)) {
    // An iterable result: same length, each element a root-level document.
    const items = _asArray(actual, ctx.path);
    if (items.length !== expected.length) {
      throw new MatchError(
        ctx.path,
        `expected ${expected.length} element(s), got ${items.length}: ${formatValue(actual)}`,
      );
    }
    expected.forEach((value, i) => _match(value, items[i], { ...ctx, path: `${ctx.path}[${i}]` }));
    return;
  }
  _match(expected, actual, ctx);
}

/**
 * Tells whether `actual` matches `expected`, without throwing.
 *
 * @param expected the expected value
 * @param actual the actual value
 * @param options as for {@linkcode assertMatches}
 * @returns `undefined` when they match, otherwise the reason
 */
export function mismatch(
  expected: unknown,
  actual: unknown,
  options: MatchOptions = {},
): string | undefined {
  try {
    assertMatches(expected, actual, options);
    return undefined;
  } catch (error) {
    if (error instanceof MatchError) return error.message;
    throw error;
  }
}

/**
 * Whether a value is a special operator: a document whose first and only key starts with `$$`.
 *
 * @param value any expected value
 * @returns true for `{ $$exists: true }` and the like
 */
export function isSpecialOperator(value: unknown): value is Record<string, unknown> {
  if (!isDocument(value)) return false;
  const keys = _keys(value);
  return keys.length === 1 && keys[0]!.startsWith("$$");
}

/**
 * Whether a value is a document (a plain object or a Map), as opposed to an array or a BSON scalar.
 *
 * @param value any value
 * @returns true for `{}` and `new Map()`, false for `[]`, `null`, `new ObjectId()`, dates
 */
export function isDocument(
  value: unknown,
): value is Record<string, unknown> | Map<unknown, unknown> {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value) || value instanceof Date || value instanceof RegExp) return false;
  if (ArrayBuffer.isView(value)) return false;
  if (value instanceof Map) return true;
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  // DBRef is a BSON type but behaves as a document in comparisons.
  return bsontype === undefined || bsontype === "DBRef";
}

/**
 * The `$type` aliases a value satisfies. JavaScript numbers lose the int/long/double distinction
 * once deserialized, so an integral number satisfies all three.
 *
 * @param value an actual value
 * @returns the matching aliases, e.g. `["int", "long", "double", "number"]` for `5`
 */
export function bsonTypesOf(value: unknown): string[] {
  if (value === undefined) return ["undefined"];
  if (value === null) return ["null"];
  switch (typeof value) {
    case "string":
      return ["string"];
    case "boolean":
      return ["bool"];
    case "bigint":
      return ["long", "number"];
    case "number":
      return Number.isInteger(value) ? ["int", "long", "double", "number"] : ["double", "number"];
  }
  if (Array.isArray(value)) return ["array"];
  if (value instanceof Date) return ["date"];
  if (value instanceof RegExp) return ["regex"];
  if (value instanceof Uint8Array) return ["binData"];
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  switch (bsontype) {
    case "Int32":
      return ["int", "number"];
    case "Long":
      return ["long", "number"];
    case "Double":
      return ["double", "number"];
    case "Decimal128":
      return ["decimal", "number"];
    case "ObjectId":
      return ["objectId"];
    case "Binary":
      return ["binData"];
    case "Timestamp":
      return ["timestamp"];
    case "BSONRegExp":
      return ["regex"];
    case "Code":
      return (value as { scope?: unknown }).scope ? ["javascriptWithScope"] : ["javascript"];
    case "BSONSymbol":
    case "Symbol":
      return ["symbol"];
    case "MinKey":
      return ["minKey"];
    case "MaxKey":
      return ["maxKey"];
    case "DBRef":
      return ["dbPointer", "object"];
  }
  return ["object"];
}

/**
 * Renders a value for a one-line failure reason (relaxed Extended JSON, shortened).
 *
 * @param value any value
 * @param max longest rendering kept
 * @returns e.g. `{"_id":1,"x":11}`
 */
export function formatValue(value: unknown, max = 160): string {
  let text: string;
  if (value === undefined) return "(unset)";
  try {
    text = value instanceof Map
      ? EJSON.stringify(Object.fromEntries(value), { relaxed: true })
      : EJSON.stringify(value as never, { relaxed: true });
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function _match(expected: unknown, actual: unknown, ctx: _Context): void {
  if (isSpecialOperator(expected)) {
    _special(expected, actual, actual !== undefined, ctx);
    return;
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) {
      throw new MatchError(ctx.path, `expected a document, got ${formatValue(actual)}`);
    }
    const expectedKeys = _keys(expected);
    for (const key of expectedKeys) {
      const value = _get(expected, key);
      const path = ctx.path === "" ? key : `${ctx.path}.${key}`;
      const present = _has(actual, key);
      const child = _get(actual, key);
      if (isSpecialOperator(value)) {
        _special(value, child, present, { ...ctx, root: false, path });
        continue;
      }
      if (!present) throw new MatchError(path, `missing, expected ${formatValue(value)}`);
      _match(value, child, { ...ctx, root: false, path });
    }
    if (!ctx.root) {
      const extra = _keys(actual).filter((key) => !expectedKeys.includes(key) && _has(actual, key));
      if (extra.length > 0) {
        throw new MatchError(
          ctx.path,
          `unexpected field(s) ${extra.map((k) => `"${k}"`).join(", ")} in nested document ${
            formatValue(actual)
          }`,
        );
      }
    }
    return;
  }
  if (Array.isArray(expected)) {
    const items = _asArray(actual, ctx.path);
    if (items.length !== expected.length) {
      throw new MatchError(
        ctx.path,
        `expected ${expected.length} element(s), got ${items.length}: ${formatValue(actual)}`,
      );
    }
    expected.forEach((value, i) =>
      _match(value, items[i], { ...ctx, root: false, path: `${ctx.path}[${i}]` })
    );
    return;
  }
  if (actual === undefined) {
    throw new MatchError(ctx.path, `missing, expected ${formatValue(expected)}`);
  }
  if (!scalarEquals(expected, actual)) {
    throw new MatchError(
      ctx.path,
      `expected ${formatValue(expected)}, got ${formatValue(actual)}`,
    );
  }
}

function _special(
  operator: Record<string, unknown>,
  actual: unknown,
  present: boolean,
  ctx: _Context,
): void {
  const name = _keys(operator)[0]!;
  const arg = _get(operator, name);
  switch (name) {
    case "$$exists": {
      if (typeof arg !== "boolean") {
        throw new Error(`$$exists needs a boolean, got ${formatValue(arg)}`);
      }
      if (arg && !present) throw new MatchError(ctx.path, "expected to exist, but is unset");
      if (!arg && present) {
        throw new MatchError(ctx.path, `expected to be unset, got ${formatValue(actual)}`);
      }
      return;
    }
    case "$$unsetOrMatches": {
      if (!present) return;
      _match(arg, actual, ctx);
      return;
    }
    case "$$type": {
      const wanted = Array.isArray(arg) ? arg : [arg];
      if (!present) {
        throw new MatchError(ctx.path, `expected type ${wanted.join("|")}, but is unset`);
      }
      const types = bsonTypesOf(actual);
      if (!wanted.some((type) => typeof type === "string" && types.includes(type))) {
        throw new MatchError(
          ctx.path,
          `expected type ${wanted.join("|")}, got ${types[0]} ${formatValue(actual)}`,
        );
      }
      return;
    }
    case "$$matchesEntity": {
      const entity = _lookup(ctx, String(arg), "value");
      _match(entity, actual, ctx);
      return;
    }
    case "$$sessionLsid": {
      const lsid = _lookup(ctx, String(arg), "sessionLsid");
      if (!present) throw new MatchError(ctx.path, "expected a session lsid, but is unset");
      if (!exactlyEquals(lsid, actual)) {
        throw new MatchError(
          ctx.path,
          `expected lsid of session "${arg}" ${formatValue(lsid)}, got ${formatValue(actual)}`,
        );
      }
      return;
    }
    case "$$lte": {
      const limit = _numeric(arg);
      const value = _numeric(actual);
      if (limit === undefined) throw new Error(`$$lte needs a number, got ${formatValue(arg)}`);
      if (value === undefined || Number(value) > Number(limit)) {
        throw new MatchError(
          ctx.path,
          `expected a number <= ${formatValue(arg)}, got ${formatValue(actual)}`,
        );
      }
      return;
    }
    case "$$matchAsRoot": {
      if (!present) throw new MatchError(ctx.path, "expected a document, but is unset");
      _match(arg, actual, { ...ctx, root: true });
      return;
    }
    case "$$matchAsDocument": {
      if (typeof actual !== "string") {
        throw new MatchError(
          ctx.path,
          `expected an Extended JSON string, got ${formatValue(actual)}`,
        );
      }
      let parsed: unknown;
      try {
        parsed = EJSON.parse(actual, { relaxed: false });
      } catch (error) {
        throw new MatchError(
          ctx.path,
          `cannot parse as Extended JSON: ${(error as Error).message}`,
        );
      }
      _match(arg, parsed, { ...ctx, root: false });
      return;
    }
    case "$$matchesHexBytes": {
      const hex = String(arg);
      if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
        throw new Error(`$$matchesHexBytes: malformed "${hex}"`);
      }
      const bytes = _bytes(actual);
      const actualHex = bytes === undefined
        ? undefined
        : Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      if (actualHex !== hex.toLowerCase()) {
        throw new MatchError(ctx.path, `expected bytes ${hex}, got ${formatValue(actual)}`);
      }
      return;
    }
  }
  throw new Error(`Unknown special operator "${name}" at ${ctx.path || "(root)"}`);
}

function _lookup(ctx: _Context, name: string, kind: "value" | "sessionLsid"): unknown {
  if (ctx.entities === undefined) {
    throw new Error(`Cannot resolve entity "${name}": no entity map given`);
  }
  return ctx.entities.valueOf(name, kind);
}

/**
 * Exact equality of two values: documents need the same keys (in any order), arrays the same
 * elements, numbers the same value. Used for `test.outcome`, which the format says is not subject
 * to the matching rules.
 *
 * @param expected one value
 * @param actual the other value
 * @returns whether they are equal
 */
export function exactlyEquals(expected: unknown, actual: unknown): boolean {
  if (isDocument(expected) || isDocument(actual)) {
    if (!isDocument(expected) || !isDocument(actual)) return false;
    const keys = _keys(expected).filter((key) => _has(expected, key));
    const other = _keys(actual).filter((key) => _has(actual, key));
    if (keys.length !== other.length) return false;
    return keys.every((key) =>
      _has(actual, key) && exactlyEquals(_get(expected, key), _get(actual, key))
    );
  }
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return false;
    return expected.length === actual.length &&
      expected.every((value, i) => exactlyEquals(value, actual[i]));
  }
  return scalarEquals(expected, actual);
}

/**
 * Equality of two non-container values: numbers by value across int, long and double (not
 * Decimal128), BSON values by content, everything else strictly.
 *
 * @param expected one value
 * @param actual the other value
 * @returns whether they are equal
 */
export function scalarEquals(expected: unknown, actual: unknown): boolean {
  const a = _numeric(expected);
  const b = _numeric(actual);
  if (a !== undefined || b !== undefined) {
    if (a === undefined || b === undefined) return false;
    return _numbersEqual(a, b);
  }
  if (expected === null || actual === null || expected === undefined || actual === undefined) {
    return expected === actual;
  }
  if (typeof expected !== "object" || typeof actual !== "object") return expected === actual;
  if (expected instanceof Date || actual instanceof Date) {
    return expected instanceof Date && actual instanceof Date &&
      expected.getTime() === actual.getTime();
  }
  const typeA = bsonTypesOf(expected)[0];
  const typeB = bsonTypesOf(actual)[0];
  if (typeA !== typeB) return false;
  switch (typeA) {
    case "objectId":
      return (expected as { toHexString(): string }).toHexString() ===
        (actual as { toHexString(): string }).toHexString();
    case "binData": {
      const x = _bytes(expected);
      const y = _bytes(actual);
      const subtypeX = (expected as { sub_type?: number }).sub_type ?? 0;
      const subtypeY = (actual as { sub_type?: number }).sub_type ?? 0;
      return x !== undefined && y !== undefined && subtypeX === subtypeY && x.length === y.length &&
        x.every((byte, i) => byte === y[i]);
    }
    case "decimal":
    case "timestamp":
      return String(expected) === String(actual);
    case "regex":
      return _regex(expected) === _regex(actual);
    case "javascript":
    case "javascriptWithScope": {
      const x = expected as { code: string; scope?: unknown };
      const y = actual as { code: string; scope?: unknown };
      return x.code === y.code && exactlyEquals(x.scope ?? null, y.scope ?? null);
    }
    case "minKey":
    case "maxKey":
      return true;
    case "symbol":
      return String((expected as { value: unknown }).value) ===
        String((actual as { value: unknown }).value);
  }
  return false;
}

type _Num = number | bigint;

function _numeric(value: unknown): _Num | undefined {
  if (typeof value === "number" || typeof value === "bigint") return value;
  if (typeof value !== "object" || value === null) return undefined;
  const bsontype = (value as { _bsontype?: unknown })._bsontype;
  if (bsontype === "Int32" || bsontype === "Double") return (value as { value: number }).value;
  if (bsontype === "Long") return BigInt((value as { toString(): string }).toString());
  return undefined;
}

function _numbersEqual(a: _Num, b: _Num): boolean {
  if (typeof a === "number" && typeof b === "number") {
    return a === b || (Number.isNaN(a) && Number.isNaN(b));
  }
  const integral = (n: _Num) => typeof n === "bigint" || Number.isInteger(n);
  if (integral(a) && integral(b)) return BigInt(a) === BigInt(b);
  return Number(a) === Number(b);
}

function _regex(value: unknown): string {
  if (value instanceof RegExp) return `/${value.source}/${[...value.flags].sort().join("")}`;
  const r = value as { pattern: string; options: string };
  return `/${r.pattern}/${[...r.options].sort().join("")}`;
}

function _bytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "object" && value !== null) {
    const binary = value as { _bsontype?: unknown; buffer?: unknown; position?: number };
    if (binary._bsontype === "Binary" && binary.buffer instanceof Uint8Array) {
      return binary.buffer.subarray(0, binary.position ?? binary.buffer.length);
    }
  }
  return undefined;
}

function _asArray(actual: unknown, path: string): unknown[] {
  if (!Array.isArray(actual)) {
    throw new MatchError(path, `expected an array, got ${formatValue(actual)}`);
  }
  return actual;
}

function _keys(doc: Record<string, unknown> | Map<unknown, unknown>): string[] {
  return doc instanceof Map ? [...doc.keys()].map(String) : Object.keys(doc);
}

function _has(doc: Record<string, unknown> | Map<unknown, unknown>, key: string): boolean {
  return _get(doc, key) !== undefined;
}

function _get(doc: Record<string, unknown> | Map<unknown, unknown>, key: string): unknown {
  if (doc instanceof Map) {
    if (doc.has(key)) return doc.get(key);
    // Maps keyed by index (e.g. bulk write results) are addressed with string keys in test files.
    const index = Number(key);
    return Number.isInteger(index) ? doc.get(index) : undefined;
  }
  return Object.hasOwn(doc, key) ? doc[key] : undefined;
}
