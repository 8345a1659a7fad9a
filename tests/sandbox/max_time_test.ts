/**
 * `maxTimeMS` as mongod honours it (an operation still running after its limit fails with
 * MaxTimeMSExpired), the `maxTimeAlwaysTimeOut` / `maxTimeNeverTimeOut` fail points that make
 * it testable, and cursor ids as int64 on the wire.
 */

import assert from "node:assert/strict";
import { type Document, Long, type MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

type Db = Awaited<ReturnType<typeof testDatabase>>["db"];

async function _maxTimeFailPoint(
  db: Db,
  name: "maxTimeAlwaysTimeOut" | "maxTimeNeverTimeOut",
  mode: unknown,
): Promise<void> {
  await db.admin().command({ configureFailPoint: name, mode });
}

const _isMaxTimeExpired = (e: MongoServerError) => {
  assert.equal(e.code, 50);
  assert.equal(e.codeName, "MaxTimeMSExpired");
  assert.match(e.message, /operation exceeded time limit/);
  return true;
};

interface _Case {
  name: string;
  run: (db: Db, maxTimeMS: number | undefined) => Promise<unknown>;
}

const ms = (maxTimeMS: number | undefined) => (maxTimeMS === undefined ? {} : { maxTimeMS });

/** Every command that honours maxTimeMS, each given the limit or not. */
const CASES: _Case[] = [
  { name: "find", run: (db, t) => db.collection("c").find({}, ms(t)).toArray() },
  { name: "aggregate", run: (db, t) => db.collection("c").aggregate([], ms(t)).toArray() },
  { name: "count", run: (db, t) => db.command({ count: "c", ...ms(t) }) },
  { name: "distinct", run: (db, t) => db.collection("c").distinct("x", {}, ms(t)) },
  {
    name: "insert",
    run: (db, t) => db.command({ insert: "c", documents: [{ x: 2 }], ...ms(t) }),
  },
  {
    name: "update",
    run: (db, t) =>
      db.command({ update: "c", updates: [{ q: {}, u: { $set: { y: 1 } } }], ...ms(t) }),
  },
  {
    name: "delete",
    run: (db, t) => db.command({ delete: "c", deletes: [{ q: {}, limit: 0 }], ...ms(t) }),
  },
  {
    name: "findAndModify",
    run: (db, t) => db.collection("c").findOneAndUpdate({}, { $set: { z: 1 } }, { ...ms(t) }),
  },
];

Deno.test("under maxTimeAlwaysTimeOut every command with a maxTimeMS fails with MaxTimeMSExpired, and writes nothing", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertOne({ x: 1 });
  await _maxTimeFailPoint(t.db, "maxTimeAlwaysTimeOut", "alwaysOn");
  try {
    for (const c of CASES) {
      await assert.rejects(c.run(t.db, 60_000), _isMaxTimeExpired, c.name);
    }
  } finally {
    await _maxTimeFailPoint(t.db, "maxTimeAlwaysTimeOut", "off");
  }
  assert.deepEqual(
    await t.db.collection("c").find({}, { projection: { _id: 0 } }).toArray(),
    [{ x: 1 }],
    "no write was applied",
  );
});

Deno.test("maxTimeAlwaysTimeOut leaves commands without a maxTimeMS alone", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertOne({ x: 1 });
  await _maxTimeFailPoint(t.db, "maxTimeAlwaysTimeOut", "alwaysOn");
  try {
    for (const c of CASES) await c.run(t.db, undefined);
  } finally {
    await _maxTimeFailPoint(t.db, "maxTimeAlwaysTimeOut", "off");
  }
});

Deno.test("maxTimeAlwaysTimeOut with times: n times out the next n operations with a limit", async () => {
  await using t = await testDatabase();
  await _maxTimeFailPoint(t.db, "maxTimeAlwaysTimeOut", { times: 1 });
  const c = t.db.collection("c");
  await assert.rejects(c.find({}, { maxTimeMS: 1000 }).toArray(), _isMaxTimeExpired);
  assert.deepEqual(await c.find({}, { maxTimeMS: 1000 }).toArray(), []);
});

/** A join mingo evaluates document by document: long enough to exceed a tiny limit. */
async function _slowPipeline(db: Db): Promise<Document[]> {
  const rows = Array.from({ length: 600 }, (_, i) => ({ v: i }));
  await db.collection("a").insertMany(rows.map((r) => ({ ...r })));
  await db.collection("b").insertMany(rows.map((r) => ({ w: r.v })));
  return [{
    $lookup: {
      from: "b",
      let: { v: "$v" },
      pipeline: [{ $match: { $expr: { $eq: ["$w", "$$v"] } } }],
      as: "m",
    },
  }];
}

Deno.test("an aggregate still running after its maxTimeMS fails with MaxTimeMSExpired", async () => {
  await using t = await testDatabase();
  const pipeline = await _slowPipeline(t.db);
  const started = performance.now();
  const all = await t.db.collection("a").aggregate(pipeline).toArray();
  const elapsed = performance.now() - started;
  assert.equal(all.length, 600);
  assert.ok(elapsed > 20, `the pipeline took ${elapsed} ms, too fast to time out`);
  const limit = Math.max(1, Math.floor(elapsed / 10));
  await assert.rejects(
    t.db.collection("a").aggregate(pipeline, { maxTimeMS: limit }).toArray(),
    _isMaxTimeExpired,
  );
  // A limit it fits in is no error.
  const fits = await t.db.collection("a").aggregate(pipeline, { maxTimeMS: 600_000 }).toArray();
  assert.equal(fits.length, 600);

  await _maxTimeFailPoint(t.db, "maxTimeNeverTimeOut", "alwaysOn");
  try {
    const never = await t.db.collection("a").aggregate(pipeline, { maxTimeMS: 1 }).toArray();
    assert.equal(never.length, 600, "maxTimeNeverTimeOut ignores the limit");
  } finally {
    await _maxTimeFailPoint(t.db, "maxTimeNeverTimeOut", "off");
  }
});

Deno.test("a maxTimeMS that is not a non-negative 32-bit integer is refused with BadValue", async () => {
  await using t = await testDatabase();
  for (const maxTimeMS of [-1, 2 ** 31, 1.5, "10"]) {
    await assert.rejects(
      t.db.command({ find: "c", maxTimeMS }),
      (e: MongoServerError) => e.code === 2,
      String(maxTimeMS),
    );
  }
  await t.db.command({ find: "c", maxTimeMS: 0 }); // 0: no limit
});

Deno.test("cursor ids are int64 on the wire, an exhausted cursor's a Long zero", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  const raw = { promoteLongs: false };
  const open = await t.db.command({ find: "c", batchSize: 2 }, raw);
  assert.ok(open.cursor.id instanceof Long, "an open cursor's id is a Long");
  assert.ok(!open.cursor.id.isZero());
  const more = await t.db.command({ getMore: open.cursor.id, collection: "c" }, raw);
  assert.equal(more.cursor.nextBatch.length, 1);
  assert.ok(more.cursor.id instanceof Long && more.cursor.id.isZero(), "exhausted: Long zero");
  const whole = await t.db.command({ find: "c" }, raw);
  assert.ok(whole.cursor.id instanceof Long && whole.cursor.id.isZero());
  const aggregate = await t.db.command({ aggregate: "c", pipeline: [], cursor: {} }, raw);
  assert.ok(aggregate.cursor.id instanceof Long && aggregate.cursor.id.isZero());
  // The driver recognises the end by that zero: no killCursors, all documents read.
  assert.equal((await t.db.collection("c").find({}, { batchSize: 1 }).toArray()).length, 3);
});
