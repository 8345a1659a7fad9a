import assert from "node:assert/strict";
import { Binary, Double, Int32, Long, ObjectId, Timestamp } from "mongodb";
import type { RecordedEvent } from "./entities.ts";
import { assertEvents } from "./events.ts";
import {
  assertMatches,
  bsonTypesOf,
  type EntityLookup,
  exactlyEquals,
  isSpecialOperator,
  MatchError,
  mismatch,
} from "./matcher.ts";

Deno.test("assertMatches() lets a root document carry extra fields", () => {
  assertMatches({ x: 1 }, { x: 1, y: 2 }, { root: true });
  assert.match(mismatch({ x: 1, y: 1 }, { x: 1 }, { root: true })!, /^y: missing/);
});

Deno.test("assertMatches() rejects extra fields in a nested document", () => {
  assert.match(
    mismatch({ x: { y: 1 } }, { x: { y: 1, z: 1 } }, { root: true })!,
    /^x: unexpected field\(s\) "z"/,
  );
  assert.match(mismatch({ y: 1 }, { y: 1, z: 1 })!, /unexpected field/);
});

Deno.test("assertMatches() treats each element of an iterable result as a root document", () => {
  assertMatches([{ _id: 1 }, { _id: 2 }], [{ _id: 1, x: 11 }, { _id: 2, x: 22 }], { root: true });
  // A distinct result (root: false) is an array of values: its documents are nested.
  assert.ok(mismatch([{ x: 1 }], [{ x: 1, y: 1 }], { root: false }));
});

Deno.test("assertMatches() requires arrays of the same length", () => {
  assert.match(mismatch([1, 2, 3], [1, 2, 3, 4])!, /expected 3 element\(s\), got 4/);
  assert.match(mismatch([{ a: 1 }], [], { root: true })!, /expected 1 element\(s\), got 0/);
  assert.match(mismatch({ a: [1] }, { a: 1 })!, /^a: expected an array/);
});

Deno.test("assertMatches() compares numbers by value across int, long and double", () => {
  assertMatches({ n: 1 }, { n: 1.0 });
  assertMatches({ n: 1 }, { n: new Long(1) });
  assertMatches({ n: 1 }, { n: new Int32(1) });
  assertMatches({ n: new Long(5) }, { n: new Double(5) });
  assertMatches({ n: 7 }, { n: 7n });
  assertMatches({ n: Long.fromString("9007199254740993") }, { n: 9007199254740993n });
  assert.match(mismatch({ n: 1 }, { n: 1.5 })!, /^n: expected 1, got 1.5/);
  assert.ok(mismatch({ n: 1 }, { n: "1" }));
  assert.ok(mismatch({ n: "1" }, { n: 1 }));
});

Deno.test("assertMatches() compares BSON values by content", () => {
  const id = new ObjectId();
  assertMatches({ _id: id }, { _id: new ObjectId(id.toHexString()) });
  assert.ok(mismatch({ _id: id }, { _id: new ObjectId() }));
  assertMatches({ d: new Date(5) }, { d: new Date(5) });
  assert.ok(mismatch({ d: new Date(5) }, { d: new Date(6) }));
  assertMatches({ b: new Binary(new Uint8Array([1, 2])) }, {
    b: new Binary(new Uint8Array([1, 2])),
  });
  assert.ok(mismatch({ t: new Timestamp({ t: 1, i: 1 }) }, { t: new Timestamp({ t: 1, i: 2 }) }));
  assertMatches({ v: null }, { v: null });
  assert.match(mismatch({ v: null }, {})!, /^v: missing/);
});

Deno.test("$$exists asserts presence or absence of a key, null counting as present", () => {
  assertMatches({ a: { $$exists: true } }, { a: null });
  assertMatches({ a: { $$exists: false } }, { b: 1 }, { root: true });
  assert.match(mismatch({ a: { $$exists: true } }, {})!, /^a: expected to exist/);
  assert.match(mismatch({ a: { $$exists: false } }, { a: 1 })!, /^a: expected to be unset/);
  // The operator's key still counts as expected: no "extra field" complaint in nested documents.
  assertMatches({ doc: { a: { $$exists: true } } }, { doc: { a: 1 } });
});

Deno.test("$$type accepts one alias or a list, and numbers satisfy int, long and double", () => {
  assertMatches({ id: { $$type: ["int", "long"] } }, { id: new Long(42) });
  assertMatches({ id: { $$type: ["int", "long"] } }, { id: 42 });
  assertMatches({ s: { $$type: "string" } }, { s: "x" });
  assertMatches({ o: { $$type: "objectId" } }, { o: new ObjectId() });
  assertMatches({ d: { $$type: "date" } }, { d: new Date() });
  assertMatches({ a: { $$type: "array" } }, { a: [1, "x"] });
  assert.match(mismatch({ s: { $$type: "string" } }, { s: 1 })!, /expected type string, got int/);
  assert.match(mismatch({ s: { $$type: "string" } }, {})!, /expected type string, but is unset/);
  assert.ok(mismatch({ d: { $$type: "int" } }, { d: 1.5 }));
  assert.deepEqual(bsonTypesOf(1.5), ["double", "number"]);
  assert.deepEqual(bsonTypesOf(null), ["null"]);
});

Deno.test("$$unsetOrMatches accepts an absent value or a matching one", () => {
  const expected = { insertedId: { $$unsetOrMatches: 2 } };
  assertMatches(expected, {}, { root: true });
  assertMatches(expected, { insertedId: 2 }, { root: true });
  assert.match(mismatch(expected, { insertedId: 3 }, { root: true })!, /^insertedId: expected 2/);
  // At the top: an operation that returns nothing, or a result that matches.
  assertMatches({ $$unsetOrMatches: { insertedId: 1 } }, undefined, { root: true });
  assertMatches({ $$unsetOrMatches: { insertedId: 1 } }, { insertedId: 1, ok: 1 }, { root: true });
  // It does not change root-ness: nested documents inside it still reject extra fields.
  assert.ok(
    mismatch({ a: { $$unsetOrMatches: { b: 1 } } }, { a: { b: 1, c: 2 } }, { root: true }),
  );
  // Operators compose: a change event's optional field, present with any value.
  assertMatches(
    { u: { truncatedArrays: { $$unsetOrMatches: { $$exists: true } } } },
    { u: { truncatedArrays: [] } },
  );
  assertMatches({ u: { truncatedArrays: { $$unsetOrMatches: { $$exists: true } } } }, { u: {} });
});

Deno.test("$$matchesEntity and $$sessionLsid resolve through the entity map", () => {
  const id = new ObjectId();
  const lsid = { id: new Binary(new Uint8Array(16), 4) };
  const entities: EntityLookup = {
    valueOf: (name, kind) => kind === "sessionLsid" ? lsid : name === "savedId" ? id : undefined,
  };
  assertMatches({ _id: { $$matchesEntity: "savedId" } }, { _id: id }, { entities });
  assert.ok(
    mismatch({ _id: { $$matchesEntity: "savedId" } }, { _id: new ObjectId() }, { entities }),
  );
  assertMatches({ lsid: { $$sessionLsid: "session0" } }, {
    lsid: { id: new Binary(new Uint8Array(16), 4) },
  }, { entities });
});

Deno.test("special operators are recognised only as a document's first and only key", () => {
  assert.ok(isSpecialOperator({ $$exists: true }));
  assert.ok(!isSpecialOperator({ $$exists: true, other: 1 }));
  assert.ok(!isSpecialOperator({ $set: { a: 1 } }));
  assert.throws(() => assertMatches({ a: { $$bogus: 1 } }, { a: 1 }), /Unknown special operator/);
});

Deno.test("assertMatches() reads Maps, as the driver uses for sort documents", () => {
  assertMatches({ sort: { _id: 1 } }, { sort: new Map([["_id", 1]]) });
  assert.ok(mismatch({ sort: { _id: 1 } }, { sort: new Map([["_id", 1], ["x", 1]]) }));
});

Deno.test("MatchError names the path of the first mismatch", () => {
  assert.throws(
    () => assertMatches([{ x: 11 }], [{ x: 12 }], { root: true, path: "expectResult" }),
    MatchError,
  );
  assert.match(
    mismatch([{ x: 11 }], [{ x: 12 }], { root: true, path: "expectResult" })!,
    /^expectResult\[0\]\.x: expected 11, got 12$/,
  );
});

Deno.test("exactlyEquals() needs the same keys in any order, for outcome checks", () => {
  assert.ok(exactlyEquals({ _id: 1, x: 11 }, { x: 11, _id: 1 }));
  assert.ok(exactlyEquals({ _id: 1, x: 11 }, { _id: new Long(1), x: 11.0 }));
  assert.ok(!exactlyEquals({ _id: 1 }, { _id: 1, x: 11 }));
  assert.ok(!exactlyEquals({ _id: 1, x: 11 }, { _id: 1 }));
  assert.ok(!exactlyEquals({ a: [1, 2] }, { a: [2, 1] }));
});

Deno.test("assertEvents() matches events in order and honours ignoreExtraEvents", () => {
  const find: RecordedEvent = {
    type: "commandStartedEvent",
    commandName: "find",
    databaseName: "db",
    command: { find: "coll", filter: { _id: { $gt: 1 } }, batchSize: 2, lsid: {}, $db: "db" },
  };
  const getMore: RecordedEvent = {
    type: "commandStartedEvent",
    commandName: "getMore",
    databaseName: "db",
    command: { getMore: new Long(12), collection: "coll", batchSize: 2 },
  };
  const expected = [
    {
      commandStartedEvent: {
        command: { find: "coll", filter: { _id: { $gt: 1 } }, batchSize: 2 },
        commandName: "find",
        databaseName: "db",
      },
    },
  ];
  assertEvents(expected, [find, getMore], { ignoreExtraEvents: true });
  assert.throws(() => assertEvents(expected, [find, getMore]), /expected 1 event\(s\), observed 2/);
  assert.throws(() => assertEvents(expected, [getMore]), /commandName: expected "find"/);
  assert.throws(() => assertEvents(expected, []), /expected 1 event\(s\), observed 0/);
  assertEvents([{
    commandStartedEvent: { command: { getMore: { $$type: ["int", "long"] }, collection: "coll" } },
  }], [getMore]);
});
