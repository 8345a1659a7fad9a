import assert from "node:assert/strict";
import { MongoServerError } from "mongodb";
import { testDatabase } from "../../support/test_db.ts";

Deno.test("a unique index rejects duplicates with MongoDB's E11000 error", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("Historique");
  assert.equal(await c.createIndex({ numero_commande: 1 }, { unique: true }), "numero_commande_1");
  await c.insertOne({ numero_commande: "CMD-000042" });
  await assert.rejects(c.insertOne({ numero_commande: "CMD-000042" }), (e) => {
    assert.ok(e instanceof MongoServerError);
    assert.equal(e.code, 11000);
    assert.match(
      e.message,
      /^E11000 duplicate key error collection: \S+\.Historique index: numero_commande_1 dup key: \{ numero_commande: "CMD-000042" \}$/,
    );
    assert.deepEqual(e.keyValue, { numero_commande: "CMD-000042" });
    return true;
  });
  await c.updateOne({ numero_commande: "CMD-000043" }, { $setOnInsert: { x: 1 } }, {
    upsert: true,
  });
  await assert.rejects(
    c.updateOne({ numero_commande: "CMD-000043" }, { $set: { numero_commande: "CMD-000042" } }),
    (e: MongoServerError) => e.code === 11000,
  );
  assert.equal(await c.countDocuments(), 2);
});

Deno.test("creating a unique index over duplicates fails", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("d");
  await c.insertMany([{ k: 1 }, { k: 1 }]);
  await assert.rejects(
    c.createIndex({ k: 1 }, { unique: true }),
    (e: MongoServerError) => e.code === 11000,
  );
});

Deno.test("listIndexes and dropIndexes manage secondary indexes", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("ix");
  await c.createIndexes([{ key: { a: 1 } }, { key: { b: -1, c: 1 }, name: "bc" }]);
  const names = (await c.listIndexes().toArray()).map((i) => i.name);
  assert.deepEqual(names, ["_id_", "a_1", "bc"]);
  await c.dropIndex("a_1");
  assert.deepEqual((await c.indexes()).map((i) => i.name), ["_id_", "bc"]);
  await c.dropIndexes();
  assert.deepEqual((await c.indexes()).map((i) => i.name), ["_id_"]);
  await assert.rejects(c.dropIndex("nope"), (e: MongoServerError) => e.code === 27);
});

Deno.test("equality queries on indexed fields find array elements and embedded values", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("menus");
  await c.createIndex({ "items.menu_id": 1 });
  await c.insertMany([
    { items: [{ menu_id: 1 }, { menu_id: 2 }] },
    { items: [{ menu_id: 2 }] },
    { items: [] },
  ]);
  assert.equal(await c.countDocuments({ "items.menu_id": 2 }), 2);
  assert.equal(await c.countDocuments({ "items.menu_id": { $in: [1, 3] } }), 1);
  await c.updateMany({}, { $set: { items: [{ menu_id: 3 }] } });
  assert.equal(await c.countDocuments({ "items.menu_id": 2 }), 0);
  assert.equal(await c.countDocuments({ "items.menu_id": 3 }), 3);
});
