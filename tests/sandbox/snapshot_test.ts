/**
 * Snapshot reads outside transactions, as mongod 5.0+ serves them: a snapshot session's first
 * find, aggregate or distinct answers the cluster time it read at, and every later read of the
 * session sees the data as it was then; other commands refuse the snapshot read concern.
 */

import assert from "node:assert/strict";
import type { ClientSession, Collection, Document, MongoServerError, Timestamp } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

type _Doc = { _id: number; x?: number };
type _Read = (c: Collection<_Doc>, session?: ClientSession) => Promise<unknown>;

const _READS: Array<[string, _Read]> = [
  ["find", (c, session) => c.find({}, { session, sort: { _id: 1 } }).toArray()],
  ["aggregate", (c, session) => c.aggregate([{ $sort: { _id: 1 } }], { session }).toArray()],
  ["distinct", (c, session) => c.distinct("x", {}, { session })],
  ["countDocuments", (c, session) => c.countDocuments({}, { session })],
];

Deno.test("a snapshot session reads the data as it was at its first read", async (t) => {
  for (const [name, read] of _READS) {
    await t.step(name, async () => {
      await using db = await testDatabase();
      const c = db.db.collection<_Doc>("snap");
      await c.insertMany([{ _id: 1, x: 11 }, { _id: 2, x: 22 }, { _id: 3, x: 33 }]);
      const session = db.client.startSession({ snapshot: true });
      try {
        const before = await read(c, session);
        await c.updateOne({ _id: 1 }, { $set: { x: 12 } });
        await c.deleteOne({ _id: 2 });
        await c.insertMany([{ _id: 4, x: 44 }, { _id: 5, x: 55 }]);
        const later = await read(c, session);
        assert.deepEqual(later, before, "the snapshot does not move");
        const now = await read(c);
        assert.notDeepEqual(now, before, "outside the session the writes are visible");
      } finally {
        await session.endSession();
      }
    });
  }
});

Deno.test("a snapshot read answers the time it read at, and reads at a given time", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<_Doc>("snap");
  await c.insertOne({ _id: 1, x: 1 });
  const first = await db.db.command({
    find: "snap",
    filter: {},
    readConcern: { level: "snapshot" },
  });
  const at = first.cursor.atClusterTime as Timestamp;
  assert.equal(at._bsontype, "Timestamp");
  await c.updateOne({ _id: 1 }, { $set: { x: 2 } });
  await c.insertOne({ _id: 2, x: 2 });
  const again = await db.db.command({
    find: "snap",
    filter: {},
    readConcern: { level: "snapshot", atClusterTime: at },
  });
  assert.deepEqual(again.cursor.firstBatch, [{ _id: 1, x: 1 }]);
  assert.ok(again.cursor.atClusterTime.equals(at));
  const distinct = await db.db.command({
    distinct: "snap",
    key: "x",
    readConcern: { level: "snapshot", atClusterTime: at },
  });
  assert.deepEqual(distinct.values, [1]);
  assert.ok(distinct.atClusterTime.equals(at), "distinct answers atClusterTime at the top level");
});

Deno.test("commands other than find, aggregate and distinct refuse the snapshot read concern", async (t) => {
  await using db = await testDatabase();
  await db.db.collection<_Doc>("snap").insertOne({ _id: 1 });
  const commands: Document[] = [
    { insert: "snap", documents: [{ _id: 2 }] },
    { update: "snap", updates: [{ q: { _id: 1 }, u: { $set: { x: 1 } } }] },
    { delete: "snap", deletes: [{ q: { _id: 1 }, limit: 1 }] },
    { findAndModify: "snap", query: { _id: 1 }, update: { $set: { x: 1 } } },
    { listCollections: 1 },
    { listIndexes: "snap" },
    { aggregate: "snap", pipeline: [{ $out: "other" }], cursor: {} },
  ];
  for (const command of commands) {
    await t.step(Object.keys(command)[0]!, async () => {
      await assert.rejects(
        db.db.command({ ...command, readConcern: { level: "snapshot" } }),
        (e: MongoServerError) => e.code === 72,
      );
    });
  }
  assert.deepEqual(await db.db.collection("snap").find().toArray(), [{ _id: 1 }]);
});
