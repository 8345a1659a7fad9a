/**
 * An order's `_id` typed on a command line, read back into the BSON value it names: the forms the
 * MongoDB shell (and {@link describeOrderId}) writes — `ObjectId("…")`, `NumberLong(42)`,
 * `NumberDecimal("1.5")`, `UUID("…")`, `BinData(4, "…")`, `ISODate("…")`, `"a string"`,
 * `'a string'`, `42`, `{ shop: 3, n: 12 }` — and canonical or relaxed Extended JSON
 * (`{"$oid": "…"}`, `{"$numberLong": "42"}`, `{"$date": …}`), nested in documents too. A bare
 * 24-digit hexadecimal string is an ObjectId. Whatever {@link describeOrderId} prints parses back
 * to the same `_id`.
 *
 * @module
 */

import { BSON, type Document } from "mongodb";

/**
 * Whether a command-line argument is written as an `_id` (a form of {@link parseOrderId}) rather
 * than as an order number: it starts with a quote, a brace or bracket, a digit or sign, a known
 * constructor (`ObjectId(`, …), or is 24 hexadecimal digits.
 *
 * @param text The argument.
 * @returns True when it must parse as an `_id`.
 */
export function looksLikeOrderId(text: string): boolean {
  const value = text.trim();
  return /^["'{[]/.test(value) || /^[+-]?(\d|\.\d)/.test(value) ||
    /^[0-9a-f]{24}$/i.test(value) || /^(new\s+)?[A-Za-z]+\s*\(/.test(value);
}

/**
 * Reads an `_id` written as the shell writes it, or as Extended JSON.
 *
 * @param text The argument, e.g. `ObjectId("65f0c0ffee0000000000002a")` or `{"$numberLong":"7"}`.
 * @returns The BSON value (an ObjectId, a number, a Long, a string, a document, …).
 * @throws {TypeError} Saying what is wrong, or what was expected where the text stops making sense.
 * @example
 * ```ts
 * parseOrderId('ObjectId("65f0c0ffee0000000000002a")'); // ObjectId
 * parseOrderId("{ shop: 3, n: 12 }"); // { shop: 3, n: 12 }
 * ```
 */
export function parseOrderId(text: string): unknown {
  const trimmed = text.trim();
  if (/^[0-9a-f]{24}$/i.test(trimmed)) return new BSON.ObjectId(trimmed);
  const reader = new _Reader(trimmed);
  const value = reader.value();
  reader.end();
  if (Array.isArray(value)) throw new TypeError("an _id cannot be an array");
  return value;
}

const _CONSTRUCTORS = [
  "ObjectId",
  "NumberLong",
  "NumberInt",
  "NumberDecimal",
  "UUID",
  "BinData",
  "ISODate",
  "Date",
  "Timestamp",
];

class _Reader {
  #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  end(): void {
    this.#space();
    if (this.#at < this.#text.length) this.#fail("nothing more");
  }

  value(): unknown {
    this.#space();
    const c = this.#text[this.#at];
    if (c === undefined) this.#fail("a value");
    if (c === "{") return this.#document();
    if (c === "[") return this.#array();
    if (c === '"' || c === "'") return this.#string();
    if (/[-+\d.]/.test(c)) return this.#number();
    const word = /^(?:new\s+)?([A-Za-z_$][\w$]*)/.exec(this.#text.slice(this.#at));
    if (!word) this.#fail("a value");
    this.#at += word[0].length;
    const name = word[1]!;
    if (name === "true") return true;
    if (name === "false") return false;
    if (name === "null") return null;
    if (!_CONSTRUCTORS.includes(name)) {
      this.#fail(`one of ${_CONSTRUCTORS.join(", ")}, a string, a number or a document`, name);
    }
    return this.#construct(name);
  }

  #construct(name: string): unknown {
    this.#expect("(");
    const args: unknown[] = [];
    this.#space();
    while (this.#text[this.#at] !== ")") {
      args.push(this.value());
      this.#space();
      if (this.#text[this.#at] === ",") this.#at++;
      else if (this.#text[this.#at] !== ")") this.#fail('"," or ")"');
      this.#space();
    }
    this.#at++;
    try {
      return _construct(name, args);
    } catch (error) {
      throw new TypeError(`${name}(…) ${(error as Error).message}`);
    }
  }

  #document(): unknown {
    this.#expect("{");
    const document: Record<string, unknown> = {};
    this.#space();
    while (this.#text[this.#at] !== "}") {
      this.#space();
      const c = this.#text[this.#at];
      let key: string;
      if (c === '"' || c === "'") key = this.#string();
      else {
        const word = /^[A-Za-z_$][\w$]*/.exec(this.#text.slice(this.#at));
        if (!word) this.#fail("a field name");
        key = word[0];
        this.#at += key.length;
      }
      this.#expect(":");
      document[key] = this.value();
      this.#space();
      if (this.#text[this.#at] === ",") this.#at++;
      else if (this.#text[this.#at] !== "}") this.#fail('"," or "}"');
      this.#space();
    }
    this.#at++;
    const keys = Object.keys(document);
    if (keys.length > 0 && keys[0]!.startsWith("$")) return _extendedJson(document);
    return document;
  }

  #array(): unknown[] {
    this.#expect("[");
    const values: unknown[] = [];
    this.#space();
    while (this.#text[this.#at] !== "]") {
      values.push(this.value());
      this.#space();
      if (this.#text[this.#at] === ",") this.#at++;
      else if (this.#text[this.#at] !== "]") this.#fail('"," or "]"');
      this.#space();
    }
    this.#at++;
    return values;
  }

  #string(): string {
    const quote = this.#text[this.#at]!;
    let end = this.#at + 1;
    while (end < this.#text.length && this.#text[end] !== quote) {
      end += this.#text[end] === "\\" ? 2 : 1;
    }
    if (end >= this.#text.length) this.#fail(`a closing ${quote}`);
    const body = this.#text.slice(this.#at + 1, end);
    this.#at = end + 1;
    const json = quote === '"' ? body : body.replaceAll("\\'", "'").replaceAll('"', '\\"');
    try {
      return JSON.parse(`"${json}"`);
    } catch {
      throw new TypeError(`expected a string with valid escapes, not ${quote}${body}${quote}`);
    }
  }

  #number(): number | BSON.Long {
    const match = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i.exec(this.#text.slice(this.#at));
    if (!match) this.#fail("a number");
    this.#at += match[0].length;
    const value = Number(match[0]);
    // A whole number past 2^53 is kept exact, as MongoDB's NumberLong.
    if (/^[-+]?\d+$/.test(match[0]) && !Number.isSafeInteger(value)) {
      const big = BigInt(match[0]);
      if (big > 2n ** 63n - 1n || big < -(2n ** 63n)) {
        throw new TypeError(`${match[0]} does not fit in 64 bits`);
      }
      return BSON.Long.fromBigInt(big);
    }
    return value;
  }

  #expect(c: string): void {
    this.#space();
    if (this.#text[this.#at] !== c) this.#fail(`"${c}"`);
    this.#at++;
  }

  #space(): void {
    while (/\s/.test(this.#text[this.#at] ?? "")) this.#at++;
  }

  #fail(expected: string, found?: string): never {
    const at = found ?? this.#text.slice(this.#at, this.#at + 12);
    throw new TypeError(
      at === ""
        ? `expected ${expected} at the end`
        : `expected ${expected} at ${JSON.stringify(at)}`,
    );
  }
}

function _construct(name: string, args: unknown[]): unknown {
  const [first, second] = args;
  const one = (kind: string) => {
    if (
      args.length !== 1 ||
      (typeof first !== "string" && typeof first !== "number" && !(first instanceof BSON.Long))
    ) {
      throw new TypeError(`takes one ${kind}`);
    }
    return String(first);
  };
  switch (name) {
    case "ObjectId": {
      const hex = one("string of 24 hexadecimal digits");
      if (!/^[0-9a-f]{24}$/i.test(hex)) throw new TypeError(`takes 24 hexadecimal digits`);
      return new BSON.ObjectId(hex);
    }
    case "NumberLong": {
      const digits = one("whole number");
      if (!/^[-+]?\d+$/.test(digits)) throw new TypeError("takes a whole number");
      const big = BigInt(digits);
      if (big > 2n ** 63n - 1n || big < -(2n ** 63n)) {
        throw new TypeError("takes a whole number that fits in 64 bits");
      }
      return BSON.Long.fromBigInt(big);
    }
    case "NumberInt": {
      const digits = one("whole number");
      const value = Number(digits);
      if (!/^[-+]?\d+$/.test(digits) || value > 2 ** 31 - 1 || value < -(2 ** 31)) {
        throw new TypeError("takes a whole number that fits in 32 bits");
      }
      return new BSON.Int32(value);
    }
    case "NumberDecimal":
      return BSON.Decimal128.fromString(one("decimal number"));
    case "UUID":
      return BSON.UUID.createFromHexString(one("UUID string").replaceAll("-", ""));
    case "BinData": {
      if (args.length !== 2 || typeof first !== "number" || typeof second !== "string") {
        throw new TypeError("takes a subtype and a base64 string");
      }
      return BSON.Binary.createFromBase64(second, first);
    }
    case "ISODate":
    case "Date": {
      const date = new Date(one("date string"));
      if (Number.isNaN(date.getTime())) throw new TypeError("takes an ISO date");
      return date;
    }
    case "Timestamp": {
      if (args.length !== 2 || typeof first !== "number" || typeof second !== "number") {
        throw new TypeError("takes two numbers, seconds and increment");
      }
      return new BSON.Timestamp({ t: first, i: second });
    }
  }
  throw new TypeError("is not a known type");
}

// A document whose first field starts with `$`: one Extended JSON value, e.g. {"$oid": "…"}.
function _extendedJson(document: Record<string, unknown>): unknown {
  // The shell's own wrappers take numbers too ({"$numberLong": 42}); Extended JSON wants text.
  const [key] = Object.keys(document);
  const wrapped = key === "$numberLong" || key === "$numberInt" || key === "$numberDouble" ||
      key === "$numberDecimal"
    ? { [key]: String(document[key]) }
    : document;
  let value: unknown;
  try {
    value = BSON.EJSON.deserialize(wrapped as Document, { relaxed: false });
  } catch (error) {
    throw new TypeError(
      `${JSON.stringify(document)} is not valid Extended JSON: ${(error as Error).message}`,
    );
  }
  if (_plainWithDollar(value)) {
    throw new TypeError(`${JSON.stringify(key)} is not an Extended JSON type`);
  }
  return value;
}

function _plainWithDollar(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if ((value as { _bsontype?: string })._bsontype !== undefined || value instanceof Date) {
    return false;
  }
  return Object.keys(value).some((key) => key.startsWith("$"));
}
