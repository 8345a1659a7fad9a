import assert from "node:assert/strict";
import type { MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

const CASE_INSENSITIVE = { locale: "en_US", strength: 2 };

Deno.test("let variables reach the filter and the update pipeline of every command", async (t) => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; name?: string; x?: unknown; y?: unknown }>("c");
  const reset = async () => {
    await c.deleteMany({});
    await c.insertMany([{ _id: 1, name: "a" }, { _id: 2, name: "b" }, { _id: 3, name: "b" }]);
  };
  const byId = { $expr: { $eq: ["$_id", "$$id"] } };
  await t.step("find", async () => {
    await reset();
    assert.deepEqual(await c.find(byId, { let: { id: 2 } }).toArray(), [{ _id: 2, name: "b" }]);
  });
  await t.step("aggregate evaluates each value as an expression once", async () => {
    const docs = await c.aggregate([
      { $match: byId },
      { $project: { _id: 0, y: "$$y", rand: "$$rand" } },
    ], { let: { id: 1, y: { $literal: "$bar" }, rand: { $rand: {} } } }).toArray();
    assert.equal(docs.length, 1);
    assert.equal(docs[0]!.y, "$bar");
    assert.equal(typeof docs[0]!.rand, "number");
  });
  await t.step("updateMany with a pipeline", async () => {
    const result = await c.updateMany(
      { $expr: { $eq: ["$name", "$$name"] } },
      [{ $set: { x: "$$x" } }],
      { let: { name: "b", x: "foo" } },
    );
    assert.equal(result.modifiedCount, 2);
    assert.deepEqual(await c.find({ x: "foo" }).map((d) => d._id).toArray(), [2, 3]);
  });
  await t.step("findOneAndReplace, deleteOne and deleteMany", async () => {
    await c.findOneAndReplace(byId, { name: "z" }, { let: { id: 1 } });
    assert.equal((await c.findOne({ _id: 1 }))?.name, "z");
    assert.equal((await c.deleteOne(byId, { let: { id: 1 } })).deletedCount, 1);
    const many = await c.deleteMany({ $expr: { $eq: ["$name", "$$n"] } }, { let: { n: "b" } });
    assert.equal(many.deletedCount, 2);
  });
  await t.step("a variable name starting with an upper-case letter is refused", async () => {
    await assert.rejects(
      c.find(byId, { let: { Id: 1 } }).toArray(),
      (e: MongoServerError) => e.code === 16867,
    );
  });
});

Deno.test("a collation of strength 2 makes queries, updates, deletes and distinct ignore case", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: unknown }>("c");
  const reset = async () => {
    await c.deleteMany({});
    await c.insertMany([{ _id: 1, x: 11 }, { _id: 2, x: "ping" }, { _id: 3, x: "pINg" }]);
  };
  await reset();
  const opts = { collation: CASE_INSENSITIVE };
  assert.deepEqual(await c.find({ x: "PING" }, opts).map((d) => d._id).toArray(), [2, 3]);
  assert.deepEqual(await c.find({ x: "PING" }).toArray(), []);
  assert.deepEqual(await c.find({ x: { $in: ["PiNg"] } }, opts).map((d) => d._id).toArray(), [
    2,
    3,
  ]);
  assert.equal(await c.countDocuments({ x: "PING" }, opts), 2);
  assert.deepEqual(await c.distinct("x", {}, opts), [11, "ping"]);
  const aggregated = await c.aggregate([{ $match: { x: "PING" } }], opts).toArray();
  assert.equal(aggregated.length, 2);
  const updated = await c.updateMany({ x: "ping" }, { $set: { x: "pong" } }, opts);
  assert.deepEqual([updated.matchedCount, updated.modifiedCount], [2, 2]);
  await reset();
  assert.equal((await c.deleteMany({ x: "PING" }, opts)).deletedCount, 2);
});

Deno.test("a collation of strength 1 also ignores accents; the simple locale compares bytes", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: string }>("c");
  await c.insertMany([{ _id: 1, x: "café" }, { _id: 2, x: "CAFE" }]);
  const base = { collation: { locale: "fr", strength: 1 } };
  assert.equal(await c.countDocuments({ x: "cafe" }, base), 2);
  assert.equal(await c.countDocuments({ x: "cafe" }, { collation: CASE_INSENSITIVE }), 1);
  assert.equal(await c.countDocuments({ x: "cafe" }, { collation: { locale: "simple" } }), 0);
});

Deno.test("a collation orders strings by its locale in a sort", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: string }>("c");
  await c.insertMany([{ _id: 1, x: "b" }, { _id: 2, x: "B" }, { _id: 3, x: "a" }]);
  const binary = await c.find({}).sort({ x: 1 }).map((d) => d.x).toArray();
  assert.deepEqual(binary, ["B", "a", "b"]);
  const english = await c.find({}, { collation: { locale: "en" } }).sort({ x: 1 })
    .map((d) => d.x).toArray();
  assert.deepEqual(english, ["a", "b", "B"]);
});

Deno.test("a pipeline update can write dotted and dollar-prefixed field names", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; [key: string]: unknown }>("c");
  await c.insertMany([{ _id: 1, foo: {} }, { _id: 2, foo: {} }]);
  const dollar = await c.updateOne({ _id: 1 }, [
    { $replaceWith: { $setField: { field: { $literal: "$a" }, value: 1, input: "$$ROOT" } } },
  ]);
  assert.equal(dollar.modifiedCount, 1);
  const dotted = await c.updateMany({ _id: 2 }, [
    { $replaceWith: { $setField: { field: { $literal: "a.b" }, value: 1, input: "$$ROOT" } } },
  ]);
  assert.equal(dotted.modifiedCount, 1);
  assert.deepEqual(await c.find().toArray(), [
    { _id: 1, foo: {}, $a: 1 },
    { _id: 2, foo: {}, "a.b": 1 },
  ]);
});

Deno.test("an update pipeline refuses stages MongoDB does not allow in updates", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; [key: string]: unknown }>("c");
  await c.insertOne({ _id: 1 });
  await assert.rejects(
    c.updateOne({ _id: 1 }, [{ $match: { _id: 1 } }]),
    (e: MongoServerError) => e.code === 72,
  );
});

Deno.test("updates with a sort are refused, as by MongoDB 7.0", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; [key: string]: unknown }>("c");
  await c.insertMany([{ _id: 1 }, { _id: 2 }]);
  await assert.rejects(
    c.updateOne({}, { $set: { x: 1 } }, { sort: { _id: -1 } } as never),
    (e: MongoServerError) => e.code === 40415,
  );
  const found = await c.findOneAndUpdate({}, { $set: { x: 1 } }, { sort: { _id: -1 } });
  assert.equal(found?._id, 2);
});
