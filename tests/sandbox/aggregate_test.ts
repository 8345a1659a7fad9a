import assert from "node:assert/strict";
import { type MongoServerError, ObjectId } from "mongodb";
import { testBackendKind, testDatabase } from "../support/test_db.ts";

Deno.test("$lookup joins by _id and by an array localField such as items.menu_id", async () => {
  await using t = await testDatabase();
  const clientId = new ObjectId();
  const menuIds = [new ObjectId(), new ObjectId()];
  await t.db.collection("Client").insertOne({ _id: clientId, nom: "Durand" });
  await t.db.collection("Menu").insertMany([
    { _id: menuIds[0], nom: "Pizza", prix: 12 },
    { _id: menuIds[1], nom: "Salade", prix: 8 },
    { _id: new ObjectId(), nom: "Other", prix: 1 },
  ]);
  await t.db.collection("Commande").insertOne({
    numero_commande: "CMD-1",
    client_id: new ObjectId(clientId.toHexString()),
    livreur_id: null,
    items: menuIds.map((id, i) => ({ menu_id: new ObjectId(id.toHexString()), quantite: i + 1 })),
  });
  const [order] = await t.db.collection("Commande").aggregate([
    { $match: { numero_commande: { $in: ["CMD-1"] } } },
    { $lookup: { from: "Client", localField: "client_id", foreignField: "_id", as: "client" } },
    { $lookup: { from: "Livreur", localField: "livreur_id", foreignField: "_id", as: "livreur" } },
    { $lookup: { from: "Menu", localField: "items.menu_id", foreignField: "_id", as: "menus" } },
    {
      $project: {
        _id: 0,
        client: { $arrayElemAt: ["$client.nom", 0] },
        livreur: { $size: "$livreur" },
        total: {
          $sum: {
            $map: {
              input: "$items",
              as: "it",
              in: {
                $multiply: [
                  "$$it.quantite",
                  {
                    $arrayElemAt: [
                      "$menus.prix",
                      { $indexOfArray: ["$menus._id", "$$it.menu_id"] },
                    ],
                  },
                ],
              },
            },
          },
        },
      },
    },
  ]).toArray();
  assert.deepEqual(order, { client: "Durand", livreur: 0, total: 28 });
  // Lookups in a row, one of them into a field the order has, one into a subdocument's field:
  // the output has each, in the order's field order, and the stored order none.
  const [joined] = await t.db.collection("Commande").aggregate([
    { $lookup: { from: "Client", localField: "client_id", foreignField: "_id", as: "client" } },
    { $lookup: { from: "Menu", localField: "items.menu_id", foreignField: "_id", as: "items" } },
    { $lookup: { from: "Client", localField: "client_id", foreignField: "_id", as: "x.c" } },
    { $lookup: { from: "Livreur", localField: "livreur_id", foreignField: "_id", as: "livreur" } },
    { $project: { _id: 0, numero_commande: 0 } },
  ]).toArray();
  assert.deepEqual(Object.keys(joined!), [
    "client_id",
    "livreur_id",
    "items",
    "client",
    "x",
    "livreur",
  ]);
  assert.deepEqual(joined!.items.map((item: { nom: string }) => item.nom), ["Pizza", "Salade"]);
  assert.equal(joined!.x.c[0].nom, "Durand");
  const stored = await t.db.collection("Commande").findOne({}, { projection: { _id: 0 } });
  assert.deepEqual(Object.keys(stored!), ["numero_commande", "client_id", "livreur_id", "items"]);
  assert.equal(stored!.items[0].quantite, 1);
});

Deno.test("$lookup with pipeline and let, $unwind, $group, $sort, $facet and $count", async () => {
  await using t = await testDatabase();
  await t.db.collection<{ _id: number; r: string; amount: number }>("orders").insertMany([
    { _id: 1, r: "a", amount: 10 },
    { _id: 2, r: "a", amount: 5 },
    { _id: 3, r: "b", amount: 7 },
  ]);
  await t.db.collection<{ _id: string; nom: string }>("restaurants").insertMany([{
    _id: "a",
    nom: "A",
  }, { _id: "b", nom: "B" }]);
  const result = await t.db.collection("orders").aggregate([
    {
      $lookup: {
        from: "restaurants",
        let: { rid: "$r" },
        pipeline: [{ $match: { $expr: { $eq: ["$_id", "$$rid"] } } }, { $project: { nom: 1 } }],
        as: "restaurant",
      },
    },
    { $unwind: "$restaurant" },
    { $group: { _id: "$restaurant.nom", total: { $sum: "$amount" }, n: { $sum: 1 } } },
    { $sort: { total: -1 } },
    { $facet: { top: [{ $limit: 1 }], count: [{ $count: "groups" }] } },
  ]).toArray();
  assert.deepEqual(result, [{ top: [{ _id: "A", total: 15, n: 2 }], count: [{ groups: 2 }] }]);
});

Deno.test("aggregate returns results in batches", async () => {
  await using t = await testDatabase();
  const c = t.db.collection<{ _id: number }>("b");
  await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i })));
  const docs = await c.aggregate([{ $match: { _id: { $gte: 5 } } }, { $sort: { _id: 1 } }], {
    batchSize: 4,
  }).toArray();
  assert.equal(docs.length, 25);
  assert.equal(docs[0]?._id, 5);
});

Deno.test("an unknown pipeline stage fails with code 40324", async () => {
  await using t = await testDatabase();
  await assert.rejects(
    t.db.collection("x").aggregate([{ $bogus: {} }]).toArray(),
    (e: MongoServerError) => e.code === 40324,
  );
});

Deno.test("$$NOW has one value in every stage of a command, as MongoDB documents", async () => {
  await using t = await testDatabase();
  const collection = t.db.collection("clock");
  await collection.insertOne({ _id: new ObjectId(), n: 1 });
  // Enough work between the stages for a clock read per stage to differ.
  const spin = {
    $reduce: { input: { $range: [0, 20_000] }, initialValue: 0, in: { $add: ["$$value", 1] } },
  };
  const [doc] = await collection.aggregate([
    { $addFields: { first: "$$NOW", spin } },
    { $addFields: { second: "$$NOW", spin2: spin } },
  ]).toArray();
  assert.equal(doc?.first.getTime(), doc?.second.getTime());
  await collection.updateOne({ n: 1 }, [
    { $set: { a: "$$NOW", spin } },
    { $set: { b: "$$NOW", spin2: spin } },
  ]);
  const updated = await collection.findOne({ n: 1 });
  assert.equal(updated?.a.getTime(), updated?.b.getTime());
});

Deno.test("a result document over 16 MB fails with BSONObjectTooLarge, as on MongoDB", async () => {
  await using t = await testDatabase();
  const collection = t.db.collection("big");
  await collection.insertMany([{ s: "x".repeat(9 * 1024 * 1024) }, { s: "small" }]);
  await assert.rejects(
    collection.aggregate([{ $project: { a: "$s", b: "$s" } }]).toArray(),
    (error: MongoServerError) => error.code === 10334,
  );
  const small = await collection.aggregate([{ $match: { s: "small" } }, { $project: { a: "$s" } }])
    .toArray();
  assert.equal(small.length, 1);
});

Deno.test("$unionWith appends the other collection through its pipeline, a view through the view's, and by name alone", async () => {
  await using t = await testDatabase();
  type Numbered = { _id: number; n: string; v?: number };
  await t.db.collection<Numbered>("a").insertMany([{ _id: 1, n: "x" }, { _id: 2, n: "y" }]);
  await t.db.collection("b").createIndex({ n: 1 }, { unique: true });
  await t.db.collection<Numbered>("b").insertMany([
    { _id: 10, n: "x", v: 1 },
    { _id: 11, n: "y", v: 2 },
    { _id: 12, n: "z", v: 3 },
  ]);
  await t.db.createCollection("b_big", { viewOn: "b", pipeline: [{ $match: { v: { $gte: 2 } } }] });
  const cases: Array<[string, unknown, unknown[]]> = [
    ["an indexed $match and a projection", {
      coll: "b",
      pipeline: [{ $match: { n: { $in: ["x", "z"] } } }, { $project: { _id: 0, v: 1 } }],
    }, [{ v: 1 }, { v: 3 }]],
    ["a view, then its own stage", {
      coll: "b_big",
      pipeline: [{ $project: { _id: 0, v: 1 } }],
    }, [{ v: 2 }, { v: 3 }]],
    ["by name", "b", [{ _id: 10, n: "x", v: 1 }, { _id: 11, n: "y", v: 2 }, {
      _id: 12,
      n: "z",
      v: 3,
    }]],
    ["a missing collection", { coll: "nothing", pipeline: [] }, []],
  ];
  for (const [name, spec, added] of cases) {
    const out = await t.db.collection("a").aggregate([
      { $match: { _id: 1 } },
      { $unionWith: spec },
    ]).toArray();
    assert.deepEqual(out, [{ _id: 1, n: "x" }, ...added], name);
  }
});

Deno.test("$setWindowFields numbers documents ($documentNumber), and $function from the wire still cannot run", async () => {
  await using t = await testDatabase();
  await t.db.collection<{ _id: number }>("w").insertMany([{ _id: 3 }, { _id: 1 }, { _id: 2 }]);
  const ranked = await t.db.collection("w").aggregate([
    { $setWindowFields: { sortBy: { _id: 1 }, output: { rank: { $documentNumber: {} } } } },
  ]).toArray();
  assert.deepEqual(ranked.map((d) => [d._id, d.rank]), [[1, 1], [2, 2], [3, 3]]);
  // A real server runs server-side JavaScript unless configured not to; the sandbox never does.
  if ((await testBackendKind()) !== "sandbox") return;
  const refused = await t.db.collection("w").aggregate([
    {
      $addFields: {
        x: { $function: { body: "function() { return 1; }", args: [], lang: "js" } },
      },
    },
  ]).toArray().then(() => undefined, (e: MongoServerError) => e);
  assert.ok(refused, "a $function body arrives as a string and is never executed");
});
