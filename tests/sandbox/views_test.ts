import assert from "node:assert/strict";
import type { MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

Deno.test("a view answers find, count, distinct and aggregate through its pipeline", async () => {
  await using t = await testDatabase();
  const source = t.db.collection<{ _id: number; x: string }>("source");
  await source.insertMany([{ _id: 1, x: "a" }, { _id: 2, x: "b" }, { _id: 3, x: "b" }]);
  await t.db.createCollection("big", {
    viewOn: "source",
    pipeline: [{ $match: { _id: { $gt: 1 } } }],
  });
  // A view on a view runs both pipelines, the source's first.
  await t.db.createCollection("bigger", {
    viewOn: "big",
    pipeline: [{ $match: { _id: { $gt: 2 } } }],
  });
  const big = t.db.collection<{ _id: number; x: string }>("big");
  assert.deepEqual(await big.find({}, { sort: { _id: -1 } }).toArray(), [
    { _id: 3, x: "b" },
    { _id: 2, x: "b" },
  ]);
  assert.equal(await big.estimatedDocumentCount(), 2);
  assert.equal(await big.countDocuments({ _id: 2 }), 1);
  assert.deepEqual(await big.distinct("x"), ["b"]);
  assert.deepEqual(await big.aggregate([{ $count: "n" }]).toArray(), [{ n: 2 }]);
  assert.deepEqual(await t.db.collection("bigger").find().toArray(), [{ _id: 3, x: "b" }]);
  const infos = await t.db.listCollections({ name: "big" }, { nameOnly: false }).toArray();
  assert.equal(infos[0]?.type, "view");
  assert.deepEqual((infos[0] as { options?: unknown } | undefined)?.options, {
    viewOn: "source",
    pipeline: [{ $match: { _id: { $gt: 1 } } }],
  });
});

Deno.test("writes and index builds on a view fail with CommandNotSupportedOnView", async () => {
  await using t = await testDatabase();
  await t.db.createCollection("v", { viewOn: "source", pipeline: [] });
  const v = t.db.collection("v");
  const refused = (e: MongoServerError) => e.code === 166;
  await assert.rejects(v.insertOne({ x: 1 }), refused);
  await assert.rejects(v.updateOne({}, { $set: { x: 1 } }), refused);
  await assert.rejects(v.deleteMany({}), refused);
  await assert.rejects(v.findOneAndDelete({}), refused);
  await assert.rejects(v.createIndex({ x: 1 }), refused);
});

Deno.test("a view may not end in $out or $merge", async () => {
  await using t = await testDatabase();
  await assert.rejects(
    t.db.createCollection("v", { viewOn: "source", pipeline: [{ $out: "elsewhere" }] }),
    (e: MongoServerError) => e.code === 166,
  );
});
