import assert from "node:assert/strict";
import {
  type ChangeStream,
  type ChangeStreamDocument,
  type Document,
  MongoClient,
  type MongoServerError,
  type ResumeToken,
  Timestamp,
} from "mongodb";
import { dedicatedSandbox, testDatabase } from "../support/test_db.ts";

async function _take(stream: ChangeStream, n: number): Promise<ChangeStreamDocument[]> {
  const events: ChangeStreamDocument[] = [];
  while (events.length < n) events.push(await stream.next());
  return events;
}

Deno.test("a collection change stream reports insert, update, replace, delete, drop, invalidate", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<Document>("events");
  await c.insertOne({ seed: true });
  const stream = c.watch([], { fullDocument: "updateLookup", maxAwaitTimeMS: 200 });
  try {
    await stream.tryNext();
    await c.insertOne({ _id: 1 as never, x: 1, arr: [1, 2, 3] });
    await c.updateOne({ _id: 1 as never }, { $set: { x: 2 }, $unset: { gone: "" } });
    await c.updateOne({ _id: 1 as never }, { $set: { arr: [1] } });
    await c.replaceOne({ _id: 1 as never }, { x: 3 });
    await c.deleteOne({ _id: 1 as never });
    await c.drop();
    const events = await _take(stream, 7);
    assert.deepEqual(events.map((e) => e.operationType), [
      "insert",
      "update",
      "update",
      "replace",
      "delete",
      "drop",
      "invalidate",
    ]);
    const [insert, update] = events;
    assert.ok(insert?.operationType === "insert");
    assert.deepEqual(insert.fullDocument, { _id: 1, x: 1, arr: [1, 2, 3] });
    assert.deepEqual(insert.ns, { db: t.dbName, coll: "events" });
    assert.deepEqual(insert.documentKey, { _id: 1 });
    assert.ok(insert.clusterTime instanceof Timestamp);
    assert.ok(insert.wallTime instanceof Date);
    assert.equal(typeof (insert._id as { _data: string })._data, "string");
    assert.ok(update?.operationType === "update");
    assert.deepEqual(update.updateDescription.updatedFields, { x: 2 });
    assert.deepEqual(update.updateDescription.removedFields, []);
    assert.ok(events[2]?.operationType === "update");
    assert.deepEqual(events[2].updateDescription.truncatedArrays, [{ field: "arr", newSize: 1 }]);
    const times = events.map((e) => (e as { clusterTime: Timestamp }).clusterTime);
    for (let i = 1; i < 6; i++) assert.ok(times[i]!.greaterThan(times[i - 1]!));
  } finally {
    await stream.close();
  }
});

Deno.test("change stream pipelines filter and project events", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<Document>("orders");
  const stream = c.watch([
    { $match: { operationType: "update", "fullDocument.status": "livrée" } },
    { $project: { "fullDocument.numero": 1, operationType: 1 } },
  ], { fullDocument: "updateLookup", maxAwaitTimeMS: 100 });
  try {
    await stream.tryNext();
    await c.insertMany([{ numero: "A", status: "en_livraison" }, {
      numero: "B",
      status: "en_livraison",
    }]);
    await c.updateOne({ numero: "A" }, { $set: { status: "annulée" } });
    await c.updateOne({ numero: "B" }, { $set: { status: "livrée" } });
    const event = await stream.next() as Document;
    assert.deepEqual(Object.keys(event).sort(), ["_id", "fullDocument", "operationType"]);
    assert.deepEqual(event.fullDocument, { numero: "B" });
  } finally {
    await stream.close();
  }
});

Deno.test("projecting out _id fails with ChangeStreamFatalError", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("x");
  const stream = c.watch([{ $project: { _id: 0 } }], { maxAwaitTimeMS: 100 });
  try {
    await stream.tryNext();
    await c.insertOne({ a: 1 });
    await assert.rejects(stream.next(), (e: MongoServerError) => {
      assert.equal(e.code, 280);
      assert.ok(e.hasErrorLabel("NonResumableChangeStreamError"));
      return true;
    });
  } finally {
    await stream.close();
  }
});

Deno.test("a change stream resumes after a token, and from an operation time", async (t) => {
  await using db = await testDatabase();
  const c = db.db.collection<Document>("resume");
  let token: ResumeToken | undefined;
  let startTime: Timestamp | undefined;
  await t.step("remember the token of the first event", async () => {
    const stream = c.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await c.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const first = await stream.next();
    token = first._id;
    startTime = (first as { clusterTime: Timestamp }).clusterTime;
    await stream.close();
  });
  await t.step("resumeAfter continues with the next event", async () => {
    const stream = c.watch([], { resumeAfter: token });
    const events = await _take(stream, 2);
    assert.deepEqual(events.map((e) => (e as { fullDocument: Document }).fullDocument.n), [2, 3]);
    await stream.close();
  });
  await t.step("startAtOperationTime includes the event at that time", async () => {
    const stream = c.watch([], { startAtOperationTime: startTime });
    const events = await _take(stream, 3);
    assert.deepEqual(events.map((e) => (e as { fullDocument: Document }).fullDocument.n), [
      1,
      2,
      3,
    ]);
    await stream.close();
  });
});

Deno.test("a database change stream sees every collection", async () => {
  await using t = await testDatabase();
  const stream = t.db.watch([], { maxAwaitTimeMS: 100 });
  try {
    await stream.tryNext();
    await t.db.collection("a").insertOne({ a: 1 });
    await t.db.collection("b").insertOne({ b: 1 });
    const events = await _take(stream, 2);
    assert.deepEqual(events.map((e) => (e as { ns: { coll: string } }).ns.coll), ["a", "b"]);
  } finally {
    await stream.close();
  }
});

Deno.test("the post-batch resume token moves forward while idle", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("idle");
  const stream = c.watch([], { maxAwaitTimeMS: 50 });
  try {
    await stream.tryNext();
    const before = stream.resumeToken as { _data: string };
    await t.db.collection("other").insertOne({ x: 1 });
    await stream.tryNext();
    const after = stream.resumeToken as { _data: string };
    assert.ok(after._data > before._data, `${after._data} should follow ${before._data}`);
  } finally {
    await stream.close();
  }
});

Deno.test("a getMore waits for events and wakes as soon as one arrives", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("wake");
  const { operationTime } = await t.db.command({ ping: 1 });
  const stream = c.watch([], { maxAwaitTimeMS: 5000, startAtOperationTime: operationTime });
  try {
    const started = performance.now();
    const next = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await c.insertOne({ now: true });
    const event = await next;
    const elapsed = performance.now() - started;
    assert.equal(event.operationType, "insert");
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  } finally {
    await stream.close();
  }
});

Deno.test("resuming from a token that left the bounded oplog fails with ChangeStreamHistoryLost", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 10 });
  if (!sandbox) return; // A real server's oplog cannot be shrunk from a test.
  const client = new MongoClient(sandbox.uri);
  try {
    const c = client.db("lost").collection("c");
    const stream = c.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await c.insertOne({ i: 0 });
    const token = (await stream.next())._id;
    await stream.close();
    await c.insertMany(Array.from({ length: 20 }, (_, i) => ({ i: i + 1 })));
    const resumed = c.watch([], { resumeAfter: token });
    await assert.rejects(resumed.next(), (e: MongoServerError) => {
      assert.equal(e.code, 286);
      assert.equal(e.codeName, "ChangeStreamHistoryLost");
      return true;
    });
    await resumed.close();
  } finally {
    await client.close();
  }
});

Deno.test("showExpandedEvents adds disambiguatedPaths for numeric and dotted field names", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; [key: string]: unknown }>("ambiguous");
  await c.insertMany([{ _id: 1, a: { "1": 1 } }, { _id: 2, a: [{ "1": 1 }] }, { _id: 3, b: [1] }]);
  const expanded = c.watch([], { showExpandedEvents: true, maxAwaitTimeMS: 50 });
  const plain = c.watch([], { maxAwaitTimeMS: 50 });
  try {
    await expanded.tryNext();
    await plain.tryNext();
    await c.updateOne({ _id: 1 }, { $set: { "a.1": 2 } });
    await c.updateOne({ _id: 2 }, { $set: { "a.0.1": 2 } });
    await c.updateOne({ _id: 3 }, { $set: { "b.0": 2 } });
    const paths = [];
    for (let i = 0; i < 3; i++) {
      const event = await expanded.next() as { updateDescription: { disambiguatedPaths: unknown } };
      paths.push(event.updateDescription.disambiguatedPaths);
    }
    assert.deepEqual(paths, [{ "a.1": ["a", "1"] }, { "a.0.1": ["a", 0, "1"] }, {}]);
    const first = await plain.next() as unknown as { updateDescription: Record<string, unknown> };
    assert.ok(!("disambiguatedPaths" in first.updateDescription));
  } finally {
    await expanded.close();
    await plain.close();
  }
});

Deno.test("a change event over 16 MB fails the read with BSONObjectTooLarge; projected, it passes", async () => {
  // The manual's "Large Change Stream Events": an update's description beside its looked-up
  // post-image can pass 16 MB though the document itself is under it.
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; a?: string; b?: string }>("large_events");
  await c.insertOne({ _id: 1, a: "a".repeat(9 << 20) });
  const { operationTime } = await t.db.command({ ping: 1 });
  const lookup = c.watch([], {
    fullDocument: "updateLookup",
    startAtOperationTime: operationTime,
    maxAwaitTimeMS: 200,
  });
  const projected = c.watch([{ $project: { operationType: 1, documentKey: 1 } }], {
    fullDocument: "updateLookup",
    startAtOperationTime: operationTime,
    maxAwaitTimeMS: 200,
  });
  try {
    await c.updateOne({ _id: 1 }, { $set: { b: "b".repeat(7 << 20) } });
    assert.equal((await lookup.next()).operationType, "insert"); // 9 MB: returned before the failure
    await assert.rejects(lookup.next(), (e: MongoServerError) => {
      assert.equal(e.code, 10334, e.message);
      return true;
    });
    const [insert, update] = await _take(projected, 2);
    assert.equal(insert?.operationType, "insert");
    assert.deepEqual(update, {
      _id: update?._id,
      operationType: "update",
      documentKey: { _id: 1 },
    });
  } finally {
    await lookup.close();
    await projected.close();
  }
});

Deno.test("a reply holds at most 16 MB of events: the rest come with the next read, none lost", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number; a?: string; b?: string }>("large_batches");
  const { operationTime } = await t.db.command({ ping: 1 });
  const stream = c.watch([], { startAtOperationTime: operationTime, maxAwaitTimeMS: 200 });
  try {
    await c.insertMany([1, 2, 3].map((n) => ({ _id: n, a: "a".repeat(7 << 20) })));
    const events = await _take(stream, 3);
    assert.deepEqual(events.map((e) => "documentKey" in e && e.documentKey._id), [1, 2, 3]);
  } finally {
    await stream.close();
  }
});
