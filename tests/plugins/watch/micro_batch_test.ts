import assert from "node:assert/strict";
import { BSON, type Document } from "mongodb";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { startWatcher } from "../../support/watcher.ts";
import { orderRefs } from "../../../plugins/watch/micro_batch.ts";

// Every _id shape an order may carry; `1` beside "1" and two documents differing in one field
// are distinct orders, as they are for MongoDB.
const ID_SHAPES: Array<[string, unknown]> = [
  ["ObjectId", new BSON.ObjectId()],
  ["string", "order-7"],
  ["int", 7],
  ["long", BSON.Long.fromNumber(8)],
  ["double", new BSON.Double(9.5)],
  ["1", 1],
  ['"1"', "1"],
  ["document a", { shop: 1, n: 2 }],
  ["document b", { shop: 1, n: 3 }],
  ["UUID", new BSON.UUID()],
];

// Events as the stream's $project leaves them: the order's _id in documentKey, no document.
const event = (id: unknown, n: number) =>
  ({
    _id: { _data: `token-${n}` },
    operationType: "update",
    documentKey: { _id: id },
  }) as unknown as import("mongodb").ChangeStreamDocument;

Deno.test("orderRefs() keeps one order per _id for every _id shape", () => {
  const events = ID_SHAPES.map(([, id], i) => event(id, i));
  const refs = orderRefs([...events, ...events]);
  assert.deepEqual(refs.map((r) => r._id), ID_SHAPES.map(([, id]) => id));
});

Deno.test("orderRefs() keeps the latest event of an order, 1 and a long 1 being one order", () => {
  const long = BSON.Long.fromNumber(1);
  const refs = orderRefs([event(1, 1), event(long, 2), event("1", 3)]);
  assert.deepEqual(refs.map((r) => r._id), [long, "1"]);
});

Deno.test("one micro-batch of orders with every _id shape archives each order once", async () => {
  await using tdb = await testDatabase("watch_id_shapes");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 1 });
  const model = seeded.orders.get(seeded.notDelivered[0]!)!;
  const courier = [...seeded.couriers.values()][0]!._id;
  const orders = tdb.db.collection("Commande");
  const numbers = ID_SHAPES.map((_, i) => `CMD-9${String(i).padStart(5, "0")}`);
  await orders.insertMany(ID_SHAPES.map(([, id], i) => ({
    ...model,
    _id: id,
    numero_commande: numbers[i],
    status: "en_livraison",
    livreur_id: courier,
  })) as Document[]);
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--batch-wait-ms", "300"]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  await orders.updateMany({ numero_commande: { $in: numbers } }, {
    $set: { status: "livrée", date_livraison: new Date() },
  });
  // One micro-batch: the ten deliveries of one update, archived together.
  await watcher.waitFor(new RegExp(`✅ Archived ${numbers.length} orders`));
  const archive = tdb.db.collection("Historique");
  await watcher.stop();
  for (const [i, [shape]] of ID_SHAPES.entries()) {
    assert.equal(
      await archive.countDocuments({ numero_commande: numbers[i] }),
      1,
      `the order with a ${shape} _id is archived once`,
    );
  }
});
