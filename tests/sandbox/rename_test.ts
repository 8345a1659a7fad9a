import assert from "node:assert/strict";
import type { ChangeStream, ChangeStreamDocument, Document, MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

async function _take(stream: ChangeStream, n: number): Promise<ChangeStreamDocument[]> {
  const events: ChangeStreamDocument[] = [];
  while (events.length < n) events.push(await stream.next());
  return events;
}

Deno.test("renameCollection moves documents and indexes to the new name", async () => {
  await using t = await testDatabase();
  const source = t.db.collection<Document>("a");
  await source.insertMany([{ _id: 1 as never, n: "x" }, { _id: 2 as never, n: "y" }]);
  await source.createIndex({ n: 1 }, { unique: true });
  const renamed = await source.rename("b");
  assert.equal(renamed.collectionName, "b");
  assert.deepEqual(await renamed.find().sort({ _id: 1 }).toArray(), [
    { _id: 1, n: "x" },
    { _id: 2, n: "y" },
  ]);
  assert.deepEqual((await renamed.listIndexes().toArray()).map((i) => i.name), ["_id_", "n_1"]);
  await assert.rejects(renamed.insertOne({ n: "x" }), (e: MongoServerError) => e.code === 11000);
  const names = (await t.db.listCollections().toArray()).map((c) => c.name);
  assert.deepEqual(names, ["b"]);
});

Deno.test("renameCollection fails as MongoDB does", async (t) => {
  await using test = await testDatabase();
  const db = test.db;
  const admin = test.client.db("admin");
  await db.collection("a").insertOne({ x: 1 });
  await db.collection("b").insertOne({ y: 1 });
  await t.step("a missing source is NamespaceNotFound (26)", async () => {
    await assert.rejects(
      db.collection("missing").rename("c"),
      (e: MongoServerError) => e.code === 26,
    );
  });
  await t.step("an existing target is NamespaceExists (48) without dropTarget", async () => {
    await assert.rejects(db.collection("a").rename("b"), (e: MongoServerError) => e.code === 48);
    assert.equal(await db.collection("a").countDocuments(), 1);
  });
  await t.step("dropTarget replaces the target", async () => {
    await db.collection("a").rename("b", { dropTarget: true });
    assert.deepEqual(
      await db.collection("b").find({}, { projection: { _id: 0 } }).toArray(),
      [{ x: 1 }],
    );
  });
  await t.step("the command only runs against admin (13)", async () => {
    await assert.rejects(
      db.command({ renameCollection: `${test.dbName}.b`, to: `${test.dbName}.c` }),
      (e: MongoServerError) => e.code === 13,
    );
  });
  await t.step("renaming to itself is IllegalOperation (20)", async () => {
    await assert.rejects(
      admin.command({ renameCollection: `${test.dbName}.b`, to: `${test.dbName}.b` }),
      (e: MongoServerError) => e.code === 20,
    );
  });
});

Deno.test("a rename ends a collection change stream with rename then invalidate", async () => {
  await using t = await testDatabase();
  const source = t.db.collection<Document>("a");
  await source.insertOne({ seed: true });
  const collectionStream = source.watch([], { maxAwaitTimeMS: 200 });
  const databaseStream = t.db.watch([], { maxAwaitTimeMS: 200 });
  try {
    await collectionStream.tryNext();
    await databaseStream.tryNext();
    await source.rename("b");
    await t.db.collection("b").insertOne({ after: true });
    const [rename, invalidate] = await _take(collectionStream, 2);
    assert.ok(rename?.operationType === "rename");
    assert.deepEqual(rename.ns, { db: t.dbName, coll: "a" });
    assert.deepEqual(rename.to, { db: t.dbName, coll: "b" });
    assert.equal(invalidate?.operationType, "invalidate");
    const [dbRename, insert] = await _take(databaseStream, 2);
    assert.ok(dbRename?.operationType === "rename");
    assert.deepEqual(dbRename.to, { db: t.dbName, coll: "b" });
    assert.ok(insert?.operationType === "insert");
    assert.deepEqual(insert.ns, { db: t.dbName, coll: "b" });
  } finally {
    await collectionStream.close();
    await databaseStream.close();
  }
});

Deno.test("a stream resumed after a rename event gets the invalidate", async () => {
  await using t = await testDatabase();
  const source = t.db.collection<Document>("a");
  await source.insertOne({ seed: true });
  const stream = source.watch([], { maxAwaitTimeMS: 200 });
  await stream.tryNext();
  await source.rename("b");
  const [rename] = await _take(stream, 1);
  await stream.close();
  const resumed = source.watch([], { resumeAfter: rename!._id, maxAwaitTimeMS: 200 });
  try {
    assert.equal((await resumed.next()).operationType, "invalidate");
  } finally {
    await resumed.close();
  }
});
