import assert from "node:assert/strict";
import type { Document, MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

const code = (expected: number) => (error: MongoServerError) => error.code === expected;

Deno.test("$merge on a unique field: whenMatched and whenNotMatched as MongoDB documents them", async (t) => {
  await using db = await testDatabase("merge");
  const source = db.db.collection("source");
  const target = db.db.collection("target");
  await target.createIndex({ key: 1 }, { unique: true });
  await source.insertMany([
    { key: "a", v: 1, extra: true },
    { key: "b", v: 2 },
  ]);
  const run = (merge: Document) =>
    source.aggregate([{ $project: { _id: 0 } }, {
      $merge: { into: "target", on: "key", ...merge },
    }])
      .toArray();
  const state =
    async () => (await target.find({}, { projection: { _id: 0 } }).sort({ key: 1 }).toArray());

  await t.step("insert when not matched; the stage returns nothing", async () => {
    assert.deepEqual(await run({ whenMatched: "keepExisting" }), []);
    assert.deepEqual(await state(), [{ key: "a", v: 1, extra: true }, { key: "b", v: 2 }]);
  });
  await t.step("keepExisting leaves the target as it was", async () => {
    await source.updateMany({}, { $inc: { v: 10 } });
    await run({ whenMatched: "keepExisting" });
    assert.deepEqual((await state()).map((d) => d.v), [1, 2]);
  });
  await t.step("merge sets the result's fields, keeping the others", async () => {
    await source.updateOne({ key: "a" }, { $unset: { extra: "" } });
    await run({});
    assert.deepEqual(await state(), [{ key: "a", v: 11, extra: true }, { key: "b", v: 12 }]);
  });
  await t.step("replace replaces the whole document", async () => {
    await run({ whenMatched: "replace" });
    assert.deepEqual(await state(), [{ key: "a", v: 11 }, { key: "b", v: 12 }]);
  });
  await t.step("a pipeline sees the result as $$new", async () => {
    await run({ whenMatched: [{ $set: { total: { $add: ["$v", "$$new.v"] } } }] });
    assert.deepEqual((await state()).map((d) => d.total), [22, 24]);
  });
  await t.step("fail stops at the first match with a duplicate key error", async () => {
    await assert.rejects(run({ whenMatched: "fail" }), code(11000));
  });
  await t.step("discard and fail when not matched", async () => {
    await source.insertOne({ key: "c", v: 3 });
    await run({ whenMatched: "keepExisting", whenNotMatched: "discard" });
    assert.equal(await target.countDocuments({ key: "c" }), 0);
    await assert.rejects(run({ whenMatched: "keepExisting", whenNotMatched: "fail" }), code(13113));
  });
});

Deno.test("$merge refuses what MongoDB refuses", async (t) => {
  await using db = await testDatabase("merge_errors");
  const source = db.db.collection("source");
  await source.insertMany([{ key: "a" }, { other: 1 }]);
  await t.step("on a field without a unique index: 51183", async () => {
    await db.db.collection("plain").createIndex({ key: 1 });
    await assert.rejects(
      source.aggregate([{ $merge: { into: "plain", on: "key" } }]).toArray(),
      code(51183),
    );
    await assert.rejects(
      source.aggregate([{ $merge: { into: "missing", on: "key" } }]).toArray(),
      code(51183),
    );
  });
  await t.step("a result without the on field: 51132", async () => {
    await db.db.collection("uniq").createIndex({ key: 1 }, { unique: true });
    await assert.rejects(
      source.aggregate([{ $project: { _id: 0 } }, { $merge: { into: "uniq", on: "key" } }])
        .toArray(),
      code(51132),
    );
  });
  await t.step("$merge anywhere but last: 40601", async () => {
    await assert.rejects(
      source.aggregate([{ $merge: { into: "x" } }, { $match: {} }]).toArray(),
      code(40601),
    );
  });
});

Deno.test("$merge writes reach change streams as inserts and updates", async () => {
  await using db = await testDatabase("merge_events");
  const target = db.db.collection("target");
  await target.insertOne({ _id: 1 as unknown as Document["_id"], v: 0 });
  const stream = target.watch([], { maxAwaitTimeMS: 200 });
  await stream.tryNext();
  await db.db.collection("source").insertMany([
    { _id: 1 as unknown as Document["_id"], v: 1 },
    { _id: 2 as unknown as Document["_id"], v: 2 },
  ]);
  await db.db.collection("source").aggregate([{ $merge: { into: "target" } }]).toArray();
  const kinds: string[] = [];
  for (let i = 0; i < 10 && kinds.length < 2; i++) {
    const event = await stream.tryNext();
    if (event) kinds.push(event.operationType);
  }
  await stream.close();
  assert.deepEqual(kinds.sort(), ["insert", "update"], "merge updates the match, inserts the rest");
});

Deno.test("$merge refuses to write a document over 16 MB, keeping the writes before it", async () => {
  await using db = await testDatabase("merge_size");
  const source = db.db.collection("source");
  await source.insertMany([
    { _id: 1 as unknown as Document["_id"], s: "small" },
    { _id: 2 as unknown as Document["_id"], s: "x".repeat(9 * 1024 * 1024) },
  ]);
  await assert.rejects(
    source.aggregate([
      { $sort: { _id: 1 } },
      { $project: { a: "$s", b: "$s" } },
      { $merge: { into: "target" } },
    ]).toArray(),
    code(10334),
  );
  assert.deepEqual(await db.db.collection("target").distinct("_id"), [1]);
  // 12 MB of ASCII: three bytes a character would pass the limit, its real size does not.
  await source.insertOne({ _id: 3 as unknown as Document["_id"], s: "y".repeat(6 * 1024 * 1024) });
  await source.aggregate([
    { $match: { _id: 3 } },
    { $project: { a: "$s", b: "$s" } },
    { $merge: { into: "target" } },
  ]).toArray();
  const written = await db.db.collection("target").findOne({
    _id: 3 as unknown as Document["_id"],
  });
  assert.equal(written?.b.length, 6 * 1024 * 1024);
});
