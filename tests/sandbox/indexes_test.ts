import assert from "node:assert/strict";
import { MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

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

Deno.test("building a unique index over duplicates fails as MongoDB's index build does, leaving no index", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("Historique");
  await c.insertMany([{ numero_commande: "CMD-1" }, { numero_commande: "CMD-1" }]);
  await assert.rejects(c.createIndex({ numero_commande: 1 }, { unique: true }), (e) => {
    assert.ok(e instanceof MongoServerError);
    assert.equal(e.code, 11000);
    assert.equal(e.codeName, "DuplicateKey");
    assert.match(
      e.message,
      /^Index build failed: [0-9a-f-]{36}: Collection \S+\.Historique \( [0-9a-f-]{36} \) :: caused by :: E11000 duplicate key error collection: \S+\.Historique index: numero_commande_1 dup key: \{ numero_commande: "CMD-1" \}$/,
    );
    assert.deepEqual(e.keyValue, { numero_commande: "CMD-1" });
    assert.deepEqual(e.keyPattern, { numero_commande: 1 });
    return true;
  });
  assert.deepEqual((await c.indexes()).map((i) => i.name), ["_id_"]);
});

Deno.test("createIndex conflicts answer with MongoDB's codes and messages (key, unique, sparse, collation and filter identify an index)", async (t) => {
  const existing = { key: { n: 1 }, name: "n_1", unique: true };
  const cases: Array<{
    name: string;
    requested: { key: Record<string, number>; name: string; [option: string]: unknown };
    code?: number;
    message?: RegExp;
    indexes: string[];
  }> = [
    {
      name: "the same index under another name",
      requested: { key: { n: 1 }, name: "n_unique", unique: true },
      code: 85,
      message: /^Index already exists with a different name: n_1$/,
      indexes: ["_id_", "n_1"],
    },
    {
      name: "an equivalent index (other TTL) under another name",
      requested: { key: { n: 1 }, name: "n_unique", unique: true, expireAfterSeconds: 60 },
      code: 85,
      message:
        /^An equivalent index already exists with a different name and options\. Requested index: \{ v: 2, key: \{ n: 1 \}, name: "n_unique", unique: true, expireAfterSeconds: 60 \}, existing index: \{ v: 2, key: \{ n: 1 \}, name: "n_1", unique: true \}$/,
      indexes: ["_id_", "n_1"],
    },
    {
      name: "an equivalent index under the same name",
      requested: { key: { n: 1 }, name: "n_1", unique: true, hidden: true },
      code: 85,
      message: /^An equivalent index already exists with the same name but different options\./,
      indexes: ["_id_", "n_1"],
    },
    {
      name: "another key under the same name",
      requested: { key: { m: 1 }, name: "n_1" },
      code: 86,
      message:
        /^An existing index has the same name as the requested index\. .* Requested index: \{ v: 2, key: \{ m: 1 \}, name: "n_1" \}, existing index: \{ v: 2, key: \{ n: 1 \}, name: "n_1", unique: true \}$/,
      indexes: ["_id_", "n_1"],
    },
    {
      name: "the same key, not unique, under the same name",
      requested: { key: { n: 1 }, name: "n_1" },
      code: 86,
      indexes: ["_id_", "n_1"],
    },
    {
      name: "the same key, not unique, under another name",
      requested: { key: { n: 1 }, name: "n_plain" },
      indexes: ["_id_", "n_1", "n_plain"],
    },
    {
      name: "the same key, sparse, under another name",
      requested: { key: { n: 1 }, name: "n_sparse", unique: true, sparse: true },
      indexes: ["_id_", "n_1", "n_sparse"],
    },
    {
      name: "the same key with a partial filter under another name",
      requested: {
        key: { n: 1 },
        name: "n_partial",
        unique: true,
        partialFilterExpression: { n: { $exists: true } },
      },
      indexes: ["_id_", "n_1", "n_partial"],
    },
    {
      name: "the same key with a collation under another name",
      requested: { key: { n: 1 }, name: "n_fr", unique: true, collation: { locale: "fr" } },
      indexes: ["_id_", "n_1", "n_fr"],
    },
    {
      name: "the same index with an explicit simple collation",
      requested: { key: { n: 1 }, name: "n_1", unique: true, collation: { locale: "simple" } },
      indexes: ["_id_", "n_1"],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using db = await testDatabase();
      const collection = db.db.collection("conflicts");
      await collection.createIndexes([existing]);
      const creating = db.db.command({ createIndexes: "conflicts", indexes: [c.requested] });
      if (c.code === undefined) {
        await creating;
      } else {
        await assert.rejects(creating, (e) => {
          assert.ok(e instanceof MongoServerError);
          assert.equal(e.code, c.code);
          assert.equal(
            e.codeName,
            c.code === 85 ? "IndexOptionsConflict" : "IndexKeySpecsConflict",
          );
          if (c.message) assert.match(e.message, c.message);
          return true;
        });
      }
      assert.deepEqual((await collection.indexes()).map((i) => i.name), c.indexes);
    });
  }
});

Deno.test("listIndexes lists an index with the simple collation without one, and a missing collection is NamespaceNotFound", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("simple");
  await c.createIndex({ n: 1 }, {
    unique: true,
    name: "n_unique",
    collation: { locale: "simple" },
  });
  const [, index] = await c.indexes();
  assert.deepEqual(index, { v: 2, key: { n: 1 }, name: "n_unique", unique: true });
  await assert.rejects(
    t.db.collection("absent").listIndexes().toArray(),
    (e: MongoServerError) => e.code === 26 && e.codeName === "NamespaceNotFound",
  );
});
