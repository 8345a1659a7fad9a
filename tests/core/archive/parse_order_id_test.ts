import assert from "node:assert/strict";
import { BSON } from "mongodb";
import { describeOrderId, orderIdKey } from "../../../core/archive/order_id.ts";
import { looksLikeOrderId, parseOrderId } from "../../../core/archive/parse_order_id.ts";

const OID = "65f0c0ffee0000000000002a";
const UUID_TEXT = "0e3c2b6a-1f4d-4c8e-9a57-3b2d1c0f9e8d";

// [what the operator types, the _id it names]
const FORMS: Array<[string, unknown]> = [
  [`ObjectId("${OID}")`, new BSON.ObjectId(OID)],
  [`ObjectId('${OID}')`, new BSON.ObjectId(OID)],
  [`new ObjectId("${OID}")`, new BSON.ObjectId(OID)],
  [OID, new BSON.ObjectId(OID)],
  [OID.toUpperCase(), new BSON.ObjectId(OID)],
  [`{"$oid": "${OID}"}`, new BSON.ObjectId(OID)],
  ["42", 42],
  ["-7", -7],
  ["1.5", 1.5],
  ["NumberLong(42)", BSON.Long.fromNumber(42)],
  ['NumberLong("9223372036854775807")', BSON.Long.MAX_VALUE],
  ["NumberLong(9223372036854775807)", BSON.Long.MAX_VALUE],
  ["9007199254740993", BSON.Long.fromBigInt(9007199254740993n)],
  ["NumberInt(5)", new BSON.Int32(5)],
  ['NumberDecimal("1.50")', BSON.Decimal128.fromString("1.50")],
  ['{"$numberLong": "42"}', BSON.Long.fromNumber(42)],
  ['{"$numberLong": 42}', BSON.Long.fromNumber(42)],
  ['{"$numberDecimal": "2.5"}', BSON.Decimal128.fromString("2.5")],
  ['"A-1"', "A-1"],
  ["'A-1'", "A-1"],
  ['"1"', "1"],
  [`"${OID}"`, OID],
  ['"say \\"hi\\""', 'say "hi"'],
  ["'it\\'s'", "it's"],
  ["{ shop: 3, n: 12 }", { shop: 3, n: 12 }],
  ['{"shop": 3, "n": 12}', { shop: 3, n: 12 }],
  [`{ shop: "Lyon", at: ObjectId("${OID}") }`, { shop: "Lyon", at: new BSON.ObjectId(OID) }],
  ['{ "a b": { c: NumberLong(1) } }', { "a b": { c: BSON.Long.fromNumber(1) } }],
  [`UUID("${UUID_TEXT}")`, new BSON.UUID(UUID_TEXT)],
  [`{"$uuid": "${UUID_TEXT}"}`, new BSON.UUID(UUID_TEXT)],
  ['BinData(0, "AQID")', new BSON.Binary(new Uint8Array([1, 2, 3]), 0)],
  ['ISODate("2025-10-14T10:00:00.000Z")', new Date("2025-10-14T10:00:00.000Z")],
  ['{"$date": "2025-10-14T10:00:00Z"}', new Date("2025-10-14T10:00:00.000Z")],
  ["true", true],
];

Deno.test("parseOrderId() reads every form the shell and Extended JSON write", () => {
  for (const [text, expected] of FORMS) {
    const parsed = parseOrderId(text);
    assert.equal(orderIdKey(parsed), orderIdKey(expected), text);
    assert.equal(describeOrderId(parsed), describeOrderId(expected), `${text}: same type`);
  }
});

Deno.test("parseOrderId() reads back what describeOrderId() prints, type for type", () => {
  const ids: unknown[] = [
    new BSON.ObjectId(),
    "CMD-000042",
    'quote " and \\ backslash',
    1,
    0,
    -3,
    2.25,
    BSON.Long.fromString("123456789012345"),
    BSON.Decimal128.fromString("-1.5E+3"),
    new BSON.UUID(),
    new BSON.Binary(new Uint8Array([9, 8, 7]), 128),
    new Date(Date.UTC(2024, 1, 29, 12)),
    { shop: 3, n: 12 },
    { legacy: { year: 2019, id: "X-9" }, "with space": new BSON.ObjectId() },
  ];
  for (const id of ids) {
    const text = describeOrderId(id);
    const parsed = parseOrderId(text);
    assert.equal(orderIdKey(parsed), orderIdKey(id), text);
    assert.equal(describeOrderId(parsed), text, `${text} keeps its type`);
  }
});

Deno.test("parseOrderId() names the problem of a text that parses to no _id", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /^expected a value at the end$/],
    ['ObjectId("zz")', /ObjectId\(…\) takes 24 hexadecimal digits/],
    ["ObjectId(", /a value at the end/],
    ['"unterminated', /a closing "/],
    ["{ shop: 3", /"," or "}" at the end/],
    ["{ shop 3 }", /":" at "3 }"/],
    ["[1, 2]", /^an _id cannot be an array$/],
    ["NumberLong(1.5)", /takes a whole number/],
    ["NumberLong('99999999999999999999')", /takes a whole number that fits in 64 bits/],
    ["99999999999999999999", /^99999999999999999999 does not fit in 64 bits$/],
    ["NumberInt(3000000000)", /fits in 32 bits/],
    ['{"$oid": "nope"}', /is not valid Extended JSON/],
    ['{"$bogus": 1}', /^"\$bogus" is not an Extended JSON type$/],
    ["Frobnicate(1)", /one of ObjectId, .* at "Frobnicate"/],
    ["42 43", /nothing more at "43"/],
    ['ISODate("not a date")', /takes an ISO date/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseOrderId(text), (error: Error) => {
      assert.ok(error instanceof TypeError, text);
      assert.match(error.message, message, text);
      return true;
    });
  }
});

Deno.test("looksLikeOrderId() tells an _id's forms from an order number", () => {
  const cases: Array<[string, boolean]> = [
    ["CMD-000042", false],
    ["A1", false],
    ["livraison", false],
    [OID, true],
    [`ObjectId("${OID}")`, true],
    ["42", true],
    ["-1", true],
    ['"CMD-000042"', true],
    ["'x'", true],
    ["{ a: 1 }", true],
    ["[1]", true],
    ["NumberLong(1)", true],
    ["ObjectId(", true],
  ];
  for (const [text, expected] of cases) assert.equal(looksLikeOrderId(text), expected, text);
});
