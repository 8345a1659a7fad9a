/**
 * Collection options mongod honours at creation and through collMod: clustered collections,
 * time series collections, and the prepareUnique step that converts an index to unique.
 */

import assert from "node:assert/strict";
import type { Document, MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

Deno.test("a clustered collection lists its clustered index, in listCollections and listIndexes", async () => {
  await using db = await testDatabase();
  await db.db.createCollection("clustered", {
    clusteredIndex: { key: { _id: 1 }, unique: true, name: "by id" },
  });
  const [info] = await db.db.listCollections({ name: "clustered" }, { nameOnly: false })
    .toArray();
  assert.deepEqual((info as Document | undefined)?.options?.clusteredIndex, {
    v: 2,
    key: { _id: 1 },
    unique: true,
    name: "by id",
  });
  const indexes = await db.db.collection("clustered").listIndexes().toArray();
  assert.deepEqual(indexes, [
    { v: 2, key: { _id: 1 }, name: "by id", unique: true, clustered: true },
  ]);
});

Deno.test("a clustered index must be unique on _id", async (t) => {
  await using db = await testDatabase();
  const bad: Array<[string, Document]> = [
    ["another key", { key: { x: 1 }, unique: true }],
    ["not unique", { key: { _id: 1 }, unique: false }],
  ];
  for (const [name, clusteredIndex] of bad) {
    await t.step(name, async () => {
      await assert.rejects(
        db.db.command({ create: `bad-${name.replace(/ /g, "-")}`, clusteredIndex }),
        (e: MongoServerError) => e.code === 2,
      );
    });
  }
});

Deno.test("a time series collection keeps measurements with the same _id, and needs the time field", async () => {
  await using db = await testDatabase();
  await db.db.createCollection("ts", { timeseries: { timeField: "time", metaField: "meta" } });
  const c = db.db.collection<{ _id: number; time?: Date; meta?: string }>("ts");
  const times = [new Date(1552949630482), new Date(1552949630483)];
  await c.insertMany(times.map((time) => ({ _id: 1, time })));
  assert.deepEqual(
    await c.find({}, { sort: { time: 1 } }).toArray(),
    times.map((time) => ({ _id: 1, time })),
  );
  assert.equal(await c.countDocuments({ _id: 1 }), 2);
  await assert.rejects(c.insertOne({ _id: 2, meta: "no time" }), (e: MongoServerError) => {
    assert.match(e.message, /'time' must be present/);
    return true;
  });
  await c.deleteOne({ _id: 1, time: times[0] });
  assert.deepEqual(await c.find().toArray(), [{ _id: 1, time: times[1] }]);
});

Deno.test("prepareUnique refuses new duplicates, and unique: true lists those left", async () => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: number }>("prep");
  await c.insertMany([{ _id: 1, x: 1 }, { _id: 2, x: 1 }, { _id: 3, x: 2 }]);
  await c.createIndex({ x: 1 });
  await assert.rejects(
    db.db.command({ collMod: "prep", index: { keyPattern: { x: 1 }, unique: true } }),
    (e: MongoServerError) => e.code === 72,
    "unique needs prepareUnique first",
  );
  await db.db.command({ collMod: "prep", index: { keyPattern: { x: 1 }, prepareUnique: true } });
  await assert.rejects(c.insertOne({ _id: 4, x: 2 }), (e: MongoServerError) => e.code === 11000);
  await c.insertOne({ _id: 5, x: 3 });
  await assert.rejects(
    db.db.command({ collMod: "prep", index: { keyPattern: { x: 1 }, unique: true } }),
    (e: MongoServerError) => {
      assert.equal(e.code, 359);
      assert.deepEqual(e.errorResponse.violations, [{ ids: [1, 2] }]);
      return true;
    },
  );
  await c.deleteOne({ _id: 2 });
  await db.db.command({ collMod: "prep", index: { keyPattern: { x: 1 }, unique: true } });
  const index = (await c.listIndexes().toArray()).find((i) => i.name === "x_1");
  assert.equal(index?.unique, true);
  assert.equal(await c.countDocuments(), 3);
});
