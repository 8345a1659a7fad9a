import assert from "node:assert/strict";
import { BSON } from "mongodb";
import { describeOrderId, orderIdKey } from "../../../core/archive/order_id.ts";

const { Binary, Decimal128, Double, Int32, Long, ObjectId, UUID } = BSON;
const oid = new ObjectId("65f0a1b2c3d4e5f601234567");
const uuid = new UUID("0b5e4e0c-8e4b-4a8f-9b6c-3f1e2d4c5b6a");

// Pairs MongoDB holds as one _id: they must share a key.
const same: Array<[string, unknown, unknown]> = [
  ["int and long", 1, Long.fromNumber(1)],
  ["int and double wrapper", new Int32(7), new Double(7)],
  ["int and decimal", 1, Decimal128.fromString("1")],
  ["decimal with trailing zeros", Decimal128.fromString("1.50"), 1.5],
  ["decimal exponent", Decimal128.fromString("1.2E+3"), 1200],
  ["zero and minus zero", 0, -0],
  ["decimal zero", Decimal128.fromString("-0.00"), 0],
  ["a long beyond 2^53", Long.fromString("9007199254740993"), 9007199254740993n],
  ["ObjectId copies", oid, new ObjectId(oid.toHexString())],
  ["UUID and its Binary", uuid, new Binary(uuid.buffer, Binary.SUBTYPE_UUID)],
  ["documents with equal numbers", { shop: 1, n: 2 }, { shop: Long.fromNumber(1), n: 2.0 }],
  ["dates", new Date(5), new Date(5)],
  ["NaN", NaN, Decimal128.fromString("NaN")],
];

// Pairs MongoDB holds as two _ids: they must have different keys.
const different: Array<[string, unknown, unknown]> = [
  ["number and string", 1, "1"],
  ["0.1 double and 0.1 decimal", 0.1, Decimal128.fromString("0.1")],
  ["2^53 and 2^53 + 1", 9007199254740992, Long.fromString("9007199254740993")],
  ["ObjectId and its hex", oid, oid.toHexString()],
  ["documents in another field order", { a: 1, b: 2 }, { b: 2, a: 1 }],
  ["a document and its fields' string", { a: 1 }, "[object Object]"],
  ["two documents", { shop: 1, n: 2 }, { shop: 1, n: 3 }],
  ["string with a quote", 's"1', "s1"],
  ["binary subtypes", new Binary(uuid.buffer, 0), new Binary(uuid.buffer, 4)],
  ["true and 1", true, 1],
  ["date and its milliseconds", new Date(5), 5],
  ["null and the string null", null, "null"],
  ["nested key injection", { a: "1,b:n2" }, { a: "1", b: 2 }],
];

Deno.test("orderIdKey() gives one key to ids MongoDB holds as one", async (t) => {
  for (const [name, a, b] of same) {
    await t.step(name, () => assert.equal(orderIdKey(a), orderIdKey(b)));
  }
});

Deno.test("orderIdKey() gives different keys to ids MongoDB holds as two", async (t) => {
  for (const [name, a, b] of different) {
    await t.step(name, () => assert.notEqual(orderIdKey(a), orderIdKey(b)));
  }
});

Deno.test("orderIdKey() survives a round trip through BSON for every id shape", () => {
  const ids = [
    oid,
    "CMD-1",
    42,
    Long.fromString("9007199254740993"),
    1.25,
    Decimal128.fromString("12.50"),
    uuid,
    { shop: 3, n: 12 },
    new Date(0),
  ];
  for (const id of ids) {
    const back = BSON.deserialize(BSON.serialize({ _id: id }))._id;
    assert.equal(orderIdKey(back), orderIdKey(id), describeOrderId(id));
  }
});

Deno.test("describeOrderId() writes ids as the MongoDB shell does", () => {
  assert.equal(describeOrderId(oid), 'ObjectId("65f0a1b2c3d4e5f601234567")');
  assert.equal(describeOrderId("A-1"), '"A-1"');
  assert.equal(describeOrderId(1), "1");
  assert.equal(describeOrderId({ shop: 3, n: 12 }), "{ shop: 3, n: 12 }");
  assert.equal(describeOrderId(uuid), 'UUID("0b5e4e0c-8e4b-4a8f-9b6c-3f1e2d4c5b6a")');
  assert.equal(
    describeOrderId(Long.fromString("9007199254740993")),
    "NumberLong(9007199254740993)",
  );
});
