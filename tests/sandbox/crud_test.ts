import assert from "node:assert/strict";
import { type Document, Long, MongoBulkWriteError, type MongoServerError, ObjectId } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

Deno.test("insert and find round-trip documents with their BSON types", async () => {
  await using t = await testDatabase();
  const orders = t.db.collection("orders");
  const id = new ObjectId();
  const date = new Date("2025-03-01T12:00:00Z");
  await orders.insertOne({ _id: id, when: date, big: Long.fromString("9007199254740993"), n: 2.5 });
  const found = await orders.findOne({ _id: new ObjectId(id.toHexString()) });
  assert.ok(found);
  assert.ok(found._id instanceof ObjectId);
  assert.equal(found._id.toHexString(), id.toHexString());
  assert.ok(found.when instanceof Date);
  assert.equal(found.when.getTime(), date.getTime());
  assert.equal(String(found.big), "9007199254740993");
  assert.equal(found.n, 2.5);
});

Deno.test("find applies filter, projection, sort, skip and limit", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; x: number; tag?: string }>("c");
  await c.insertMany(
    [1, 2, 3, 4, 5, 6].map((i) => ({ _id: i, x: i * 11, tag: i % 2 ? "odd" : "even" })),
  );
  const docs = await c.find({ x: { $gt: 11 } }, { projection: { tag: 0 } })
    .sort({ _id: -1 }).skip(1).limit(3).toArray();
  assert.deepEqual(docs, [{ _id: 5, x: 55 }, { _id: 4, x: 44 }, { _id: 3, x: 33 }]);
  assert.deepEqual(await c.find({ tag: "even" }, { projection: { _id: 1 } }).toArray(), [
    { _id: 2 },
    { _id: 4 },
    { _id: 6 },
  ]);
});

Deno.test("find returns large results over several batches, 101 documents first", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("many");
  await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
  const cursor = c.find({}, { sort: { i: 1 } });
  const first = await cursor.next();
  assert.equal(first?.i, 0);
  assert.equal(cursor.bufferedCount(), 100);
  const rest = await cursor.toArray();
  assert.equal(rest.length, 249);
  assert.equal(rest.at(-1)?.i, 249);
});

Deno.test("ObjectIds with the same bytes are equal in $in, distinct and sort", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("ids");
  const ids = [new ObjectId(), new ObjectId(), new ObjectId()];
  await c.insertMany(ids.map((ref, i) => ({ i, ref })));
  await c.insertOne({ i: 3, ref: new ObjectId(ids[0]!.toHexString()) });
  const copies = ids.map((id) => new ObjectId(id.toHexString()));
  assert.equal(await c.countDocuments({ ref: { $in: [copies[0], copies[2]] } }), 3);
  const distinct = await c.distinct("ref");
  assert.equal(distinct.length, 3);
  const sorted = await c.find({}, { sort: { ref: 1, i: 1 } }).toArray();
  const hex = sorted.map((d) => (d.ref as ObjectId).toHexString());
  assert.deepEqual(hex, [...hex].sort());
});

Deno.test("updateOne, updateMany and upserts report MongoDB's counts", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; x: number; y?: number; created?: boolean }>("u");
  await c.insertMany([{ _id: 1, x: 11 }, { _id: 2, x: 22 }, { _id: 3, x: 33 }]);
  const one = await c.updateOne({ _id: { $gt: 1 } }, { $inc: { x: 1 } });
  assert.equal(one.matchedCount, 1);
  assert.equal(one.modifiedCount, 1);
  const many = await c.updateMany({ _id: { $gt: 1 } }, { $set: { y: 0 } });
  assert.equal(many.matchedCount, 2);
  assert.equal(many.modifiedCount, 2);
  const none = await c.updateMany({ _id: { $gt: 1 } }, { $set: { y: 0 } });
  assert.equal(none.modifiedCount, 0);
  const upsert = await c.updateOne(
    { _id: 4 },
    { $set: { x: 44 }, $setOnInsert: { created: true } },
    { upsert: true },
  );
  assert.equal(upsert.upsertedCount, 1);
  assert.equal(upsert.upsertedId, 4);
  assert.deepEqual(await c.findOne({ _id: 4 }), { _id: 4, x: 44, created: true });
  await c.updateOne({ _id: 4 }, { $set: { x: 45 }, $setOnInsert: { created: false } }, {
    upsert: true,
  });
  assert.deepEqual(await c.findOne({ _id: 4 }), { _id: 4, x: 45, created: true });
  await assert.rejects(
    c.updateOne({ _id: 1 }, { $set: { _id: 9 } }),
    (e: MongoServerError) => e.code === 66,
  );
});

Deno.test("replaceOne keeps _id and deleteOne/deleteMany count deletions", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; x: number }>("r");
  await c.insertMany([{ _id: 1, x: 11 }, { _id: 2, x: 22 }, { _id: 3, x: 33 }]);
  const replaced = await c.replaceOne({ _id: 1 }, { x: 111 });
  assert.equal(replaced.modifiedCount, 1);
  assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, x: 111 });
  assert.equal((await c.deleteOne({ _id: { $gt: 1 } })).deletedCount, 1);
  assert.equal((await c.deleteMany({})).deletedCount, 2);
  assert.equal(await c.estimatedDocumentCount(), 0);
});

Deno.test("findOneAndUpdate returns the document before or after the change", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; x: number }>("fam");
  await c.insertMany([{ _id: 1, x: 11 }, { _id: 2, x: 22 }]);
  const before = await c.findOneAndUpdate({ _id: { $gt: 0 } }, { $inc: { x: 1 } }, {
    sort: { _id: -1 },
  });
  assert.deepEqual(before, { _id: 2, x: 22 });
  const after = await c.findOneAndUpdate({ _id: 2 }, { $inc: { x: 1 } }, {
    returnDocument: "after",
    projection: { x: 1, _id: 0 },
  });
  assert.deepEqual(after, { x: 24 });
  const upserted = await c.findOneAndReplace({ _id: 3 }, { x: 33 }, {
    upsert: true,
    returnDocument: "after",
  });
  assert.deepEqual(upserted, { _id: 3, x: 33 });
  assert.deepEqual(await c.findOneAndDelete({ _id: 1 }), { _id: 1, x: 11 });
  assert.equal(await c.findOneAndDelete({ _id: 1 }), null);
});

Deno.test("insertMany reports duplicate keys ordered (stop) and unordered (continue)", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number }>("dups");
  await c.insertOne({ _id: 1 });
  await assert.rejects(c.insertMany([{ _id: 2 }, { _id: 1 }, { _id: 3 }]), (e) => {
    assert.ok(e instanceof MongoBulkWriteError);
    assert.equal(e.insertedCount, 1);
    assert.equal([e.writeErrors].flat().length, 1);
    const [first] = [e.writeErrors].flat();
    assert.equal(first!.index, 1);
    assert.equal(first!.code, 11000);
    assert.match(
      first!.errmsg ?? "",
      /E11000 duplicate key error collection: .*\.dups index: _id_ dup key: \{ _id: 1 \}/,
    );
    return true;
  });
  await assert.rejects(
    c.insertMany([{ _id: 1 }, { _id: 4 }, { _id: 4 }, { _id: 5 }], { ordered: false }),
    (e) => {
      assert.ok(e instanceof MongoBulkWriteError);
      assert.equal(e.insertedCount, 2);
      assert.deepEqual([e.writeErrors].flat().map((w) => w.index), [0, 2]);
      return true;
    },
  );
  assert.equal(await c.countDocuments(), 4);
});

Deno.test("count and distinct answer like MongoDB", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("cd");
  await c.insertMany([{ a: 1, t: ["x", "y"] }, { a: 2, t: ["y"] }, { a: 2 }, { a: 3 }]);
  assert.equal(await c.countDocuments({ a: 2 }), 2);
  assert.equal(await c.countDocuments({}, { skip: 1, limit: 2 }), 2);
  assert.deepEqual(await c.distinct("a"), [1, 2, 3]);
  assert.deepEqual(await c.distinct("t"), ["x", "y"]);
  assert.deepEqual(await c.distinct("a", { a: { $gte: 2 } }), [2, 3]);
});

Deno.test("an unknown command answers CommandNotFound", async () => {
  await using t = await testDatabase();
  await assert.rejects(t.db.command({ noSuchCommand: 1 }), (e: MongoServerError) => {
    assert.equal(e.code, 59);
    assert.equal(e.codeName, "CommandNotFound");
    return true;
  });
});

Deno.test("a pipeline update whose output lacks _id keeps the document's _id", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<Document>("pipeline_updates");
  await c.insertOne({ _id: 1 as never, x: 1, y: { z: 2 } });
  await c.updateOne({ _id: 1 as never }, [{ $replaceRoot: { newRoot: "$y" } }]);
  assert.deepEqual(await c.findOne({ _id: 1 as never }), { _id: 1, z: 2 });
  await c.updateOne({ _id: 1 as never }, [{ $project: { _id: 0, z: 1 } }, { $set: { w: 3 } }]);
  assert.deepEqual(await c.findOne({ _id: 1 as never }), { _id: 1, z: 2, w: 3 });
  await assert.rejects(
    c.updateOne({ _id: 1 as never }, [{ $set: { _id: 2 } }]),
    (e: MongoServerError) => e.code === 66,
  );
});

Deno.test("a replacement that changes _id fails with 66, naming the new _id as mongod prints it", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("immutable_id");
  const theOrder: Document = { _id: "the order" };
  const id = new ObjectId("65f0a1b2c3d4e5f601234567");
  const cases: Array<[unknown, string]> = [
    [id, "ObjectId('65f0a1b2c3d4e5f601234567')"],
    [{ region: "nord", n: 7 }, '{ region: "nord", n: 7 }'],
    ["1", '"1"'],
    [1, "1"],
    [new Long(2), "2"],
  ];
  await c.insertOne({ ...theOrder, v: 0 });
  for (const [newId, printed] of cases) {
    await assert.rejects(
      c.replaceOne(theOrder, { _id: newId, v: 1 } as Document),
      (e: MongoServerError) => {
        assert.equal(e.code, 66);
        assert.ok(e.message.endsWith(`altered to _id: ${printed}`), e.message);
        return true;
      },
    );
  }
  assert.deepEqual(await c.findOne(theOrder), { ...theOrder, v: 0 });
});
