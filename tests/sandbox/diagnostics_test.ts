import assert from "node:assert/strict";
import { testDatabase } from "../support/test_db.ts";

async function seeded() {
  const t = await testDatabase();
  const orders = t.db.collection("Commande");
  await orders.insertMany(
    Array.from({ length: 20 }, (_, i) => ({
      numero_commande: `CMD-${i}`,
      status: i % 4 === 0 ? "livrée" : "en cours",
    })),
  );
  return t;
}

Deno.test("an indexed find's explain names the index and examines only its keys", async () => {
  await using t = await seeded();
  const orders = t.db.collection("Commande");
  await orders.createIndex({ status: 1 });
  const explain = await orders.find({ status: "livrée" }).explain("executionStats");
  const plan = explain.queryPlanner.winningPlan;
  assert.equal(plan.stage, "FETCH");
  assert.equal(plan.inputStage.stage, "IXSCAN");
  assert.equal(plan.inputStage.indexName, "status_1");
  const stats = explain.executionStats;
  assert.equal(stats.nReturned, 5);
  assert.equal(stats.totalKeysExamined, stats.nReturned);
  assert.equal(stats.totalDocsExamined, 5);
  assert.equal(typeof stats.executionTimeMillis, "number");
});

Deno.test("an unindexed find's explain is a collection scan over every document", async () => {
  await using t = await seeded();
  const explain = await t.db.collection("Commande").find({ status: "livrée" })
    .explain("executionStats");
  assert.equal(explain.queryPlanner.winningPlan.stage, "COLLSCAN");
  assert.equal(explain.executionStats.nReturned, 5);
  assert.equal(explain.executionStats.totalKeysExamined, 0);
  assert.equal(explain.executionStats.totalDocsExamined, 20);
});

Deno.test("an aggregate's explain describes its $cursor and each stage's output", async () => {
  await using t = await seeded();
  const orders = t.db.collection("Commande");
  await orders.createIndex({ status: 1 });
  const explain = await orders.aggregate([
    { $match: { status: "en cours" } },
    { $group: { _id: null, n: { $sum: 1 } } },
  ]).explain("executionStats");
  const cursor = explain.stages[0].$cursor;
  assert.equal(cursor.queryPlanner.winningPlan.inputStage.indexName, "status_1");
  assert.equal(cursor.executionStats.nReturned, 15);
  assert.equal(Number(explain.stages[1].nReturned), 1);
});

Deno.test("$indexStats counts one access per query that uses the index", async () => {
  await using t = await seeded();
  const orders = t.db.collection("Commande");
  await orders.createIndex({ status: 1 });
  const ops = async () => {
    const stats = await orders.aggregate([{ $indexStats: {} }]).toArray();
    const byName = Object.fromEntries(stats.map((s) => [s.name, s]));
    assert.ok(byName.status_1.accesses.since instanceof Date);
    assert.deepEqual(byName.status_1.key, { status: 1 });
    return Number(byName.status_1.accesses.ops);
  };
  const before = await ops();
  await orders.find({ status: "livrée" }).toArray();
  assert.equal(await ops(), before + 1);
  await orders.find({ numero_commande: "CMD-1" }).toArray();
  assert.equal(await ops(), before + 1);
  await orders.aggregate([{ $match: { status: "en cours" } }]).toArray();
  assert.equal(await ops(), before + 2);
});

Deno.test("collStats, $collStats and dbStats report sizes from the documents' BSON", async () => {
  await using t = await seeded();
  const orders = t.db.collection("Commande");
  await orders.createIndex({ status: 1 });
  const stats = await t.db.command({ collStats: "Commande" });
  assert.equal(stats.count, 20);
  assert.equal(stats.nindexes, 2);
  assert.ok(stats.size > 20 * 40);
  assert.equal(stats.avgObjSize, Math.floor(stats.size / 20));
  assert.ok(stats.indexSizes._id_ > 0 && stats.indexSizes.status_1 > 0);
  assert.equal(stats.totalIndexSize, stats.indexSizes._id_ + stats.indexSizes.status_1);
  const [agg] = await orders.aggregate([{ $collStats: { storageStats: {} } }]).toArray();
  assert.equal(agg!.storageStats.size, stats.size);
  const db = await t.db.command({ dbStats: 1 });
  assert.equal(db.collections, 1);
  assert.equal(db.objects, 20);
  assert.equal(db.dataSize, stats.size);
  assert.equal(db.indexes, 2);
  const { databases } = await t.client.db("admin").command({ listDatabases: 1 });
  const listed = databases.find((d: { name: string }) => d.name === t.dbName);
  assert.equal(listed.sizeOnDisk, db.totalSize);
});

Deno.test("validate reports the records and the keys of each index", async () => {
  await using t = await seeded();
  await t.db.collection("Commande").createIndex({ status: 1 });
  const result = await t.db.command({ validate: "Commande" });
  assert.equal(result.valid, true);
  assert.equal(result.nrecords, 20);
  assert.deepEqual(result.keysPerIndex, { _id_: 20, status_1: 20 });
});

Deno.test("$currentOp lists an open change stream with the aggregate that opened it", async () => {
  await using t = await seeded();
  const stream = t.db.collection("Commande").watch();
  try {
    await stream.tryNext();
    const ops = await t.client.db("admin").aggregate([
      { $currentOp: { allUsers: true } },
      { $match: { "command.aggregate": "Commande" } },
    ]).toArray();
    assert.equal(ops.length, 1);
    assert.equal(ops[0]!.ns, `${t.dbName}.Commande`);
    assert.ok(ops[0]!.cursor.cursorId);
    const legacy = await t.client.db("admin").command({
      currentOp: 1,
      "command.aggregate": "Commande",
    });
    assert.equal(legacy.inprog.length, 1);
  } finally {
    await stream.close();
  }
});

Deno.test("serverStatus counts operations", async () => {
  await using t = await seeded();
  const admin = t.client.db("admin");
  const before = await admin.command({ serverStatus: 1 });
  await t.db.collection("Commande").find({}).toArray();
  const after = await admin.command({ serverStatus: 1 });
  assert.ok(Number(after.opcounters.query) >= Number(before.opcounters.query) + 1);
  assert.ok(after.connections.current >= 1);
  assert.ok(after.mem.resident > 0);
});
