import assert from "node:assert/strict";
import type { ChangeStreamDocument, Document, MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

type _Event = ChangeStreamDocument & Document;

Deno.test("pre- and post-images appear only once collMod enables them", async (t) => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x?: number }>("images");
  await c.insertOne({ _id: 1 });
  const updateEvent = async (options: Document) => {
    const stream = c.watch([], { maxAwaitTimeMS: 50, ...options });
    try {
      await stream.tryNext();
      await c.updateOne({ _id: 1 }, { $inc: { x: 1 } });
      return await stream.next() as _Event;
    } finally {
      await stream.close();
    }
  };
  await t.step("disabled: whenAvailable gives null", async () => {
    const event = await updateEvent({
      fullDocument: "whenAvailable",
      fullDocumentBeforeChange: "whenAvailable",
    });
    assert.equal(event.fullDocument, null);
    assert.equal(event.fullDocumentBeforeChange, null);
  });
  await t.step("disabled: required fails the stream", async () => {
    await assert.rejects(
      updateEvent({ fullDocumentBeforeChange: "required" }),
      (e: MongoServerError) => e.code === 47,
    );
  });
  await t.step("enabled: both images are the documents around the update", async () => {
    await db.db.command({ collMod: "images", changeStreamPreAndPostImages: { enabled: true } });
    const event = await updateEvent({
      fullDocument: "required",
      fullDocumentBeforeChange: "required",
    });
    assert.deepEqual(event.fullDocumentBeforeChange, { _id: 1, x: 2 });
    assert.deepEqual(event.fullDocument, { _id: 1, x: 3 });
  });
  await t.step("off: no fullDocumentBeforeChange field", async () => {
    const event = await updateEvent({ fullDocumentBeforeChange: "off" });
    assert.ok(!("fullDocumentBeforeChange" in event));
  });
});

Deno.test("collMod refuses an unknown option and a missing collection", async () => {
  await using db = await testDatabase();
  await db.db.createCollection("c");
  await assert.rejects(
    db.db.command({ collMod: "c", colour: "blue" }),
    (e: MongoServerError) => e.code === 40415,
  );
  await assert.rejects(
    db.db.command({ collMod: "missing" }),
    (e: MongoServerError) => e.code === 26,
  );
  const info = await db.db.listCollections({ name: "c" }).next();
  assert.ok(info);
});

Deno.test("a validator refuses writes that fail it, with errInfo, unless bypassed", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: unknown }>("validated");
  await c.insertOne({ _id: 1, x: "a" });
  await db.db.command({ collMod: "validated", validator: { x: { $type: "string" } } });
  await assert.rejects(
    c.findOneAndUpdate({ _id: 1 }, { $set: { x: 1 } }),
    (e: MongoServerError) => e.code === 121 && e.errInfo?.failingDocumentId === 1,
  );
  await assert.rejects(c.insertOne({ _id: 2, x: 2 }), (e: MongoServerError) => e.code === 121);
  await c.insertOne({ _id: 3, x: 3 }, { bypassDocumentValidation: true });
  await c.updateOne({ _id: 1 }, { $set: { x: "b" } });
  await db.db.command({ collMod: "validated", validationLevel: "moderate" });
  // Moderate: a document that already failed the validator may be updated.
  await c.updateOne({ _id: 3 }, { $set: { x: 4 } });
  await db.db.command({ collMod: "validated", validationAction: "warn" });
  await c.insertOne({ _id: 4, x: 4 });
  assert.deepEqual(await c.find().map((d) => d.x).toArray(), ["b", 4, 4]);
});

Deno.test("showExpandedEvents reports create, createIndexes, dropIndexes and modify, with collectionUUID", async () => {
  await using db = await testDatabase();
  const stream = db.db.watch([], { showExpandedEvents: true, maxAwaitTimeMS: 50 });
  const plain = db.db.watch([], { maxAwaitTimeMS: 50 });
  try {
    await stream.tryNext();
    await plain.tryNext();
    await db.db.createCollection("expanded");
    const c = db.db.collection<{ _id: number }>("expanded");
    await c.createIndex({ x: 1 }, { name: "x_1" });
    await c.insertOne({ _id: 1 });
    await db.db.command({ collMod: "expanded", validator: { x: { $exists: false } } });
    await c.dropIndex("x_1");
    const types: string[] = [];
    const uuids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const event = await stream.next() as _Event;
      types.push(event.operationType);
      uuids.add(String(event.collectionUUID));
      if (event.operationType === "createIndexes") {
        assert.equal(event.operationDescription?.indexes?.[0]?.name, "x_1");
      }
      if (event.operationType === "modify") {
        assert.deepEqual(event.operationDescription, { validator: { x: { $exists: false } } });
      }
    }
    assert.deepEqual(types, ["create", "createIndexes", "insert", "modify", "dropIndexes"]);
    assert.equal(uuids.size, 1);
    const first = await plain.next() as _Event;
    assert.equal(first.operationType, "insert");
    assert.ok(!("collectionUUID" in first));
  } finally {
    await stream.close();
    await plain.close();
  }
});
