/**
 * An order is its `_id`: the archiving core, on both paths, against every shape of identity —
 * ids of every BSON type, numbers reused by other orders, an archived order renumbered, two
 * orders sharing a number in one batch. The invariant each row asserts: every delivered order is
 * in the archive exactly once by `order_id`, or in the quarantine with its reason.
 */

import assert from "node:assert/strict";
import { BSON, type Db, type Document } from "mongodb";
import { getLogger } from "@logtape/logtape";
import {
  type ArchiveOptions,
  archiveOrders,
  type ArchivePath,
  type OrderRef,
} from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { describeOrderId, orderIdKey } from "../../../core/archive/order_id.ts";
import { testDatabase } from "../../support/test_db.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);
const { Decimal128, Long, ObjectId, UUID } = BSON;
const PATHS: ArchivePath[] = ["server", "client"];

function options(db: Db, path: ArchivePath): ArchiveOptions {
  return { db, names, log, archivedBy: "batch", deliveredStatus: "livrée", path };
}

async function deliveredRefs(db: Db): Promise<OrderRef[]> {
  return await db.collection("Commande").find({ status: "livrée" }, {
    projection: { numero_commande: 1 },
  }).toArray();
}

/** Asserts the invariant; returns each delivered order's fate by id key. */
async function assertInvariant(db: Db): Promise<Map<string, string>> {
  const archive = await db.collection("Historique").find().toArray();
  const quarantine = await db.collection("archiver_quarantine").find().toArray();
  const archived = new Map<string, number>();
  for (const document of archive) {
    const key = orderIdKey(document.order_id);
    archived.set(key, (archived.get(key) ?? 0) + 1);
  }
  const quarantined = new Map(quarantine.map((q) => [orderIdKey(q._id), String(q.reason)]));
  const fates = new Map<string, string>();
  for (const order of await deliveredRefs(db)) {
    const key = orderIdKey(order._id);
    const times = archived.get(key) ?? 0;
    assert.ok(times <= 1, `order ${describeOrderId(order._id)} archived ${times} times`);
    const fate = times === 1 ? "archived" : quarantined.get(key);
    assert.ok(fate, `order ${describeOrderId(order._id)} is neither archived nor quarantined`);
    fates.set(key, fate);
  }
  const numbers = archive.map((d) => d.numero_commande);
  assert.equal(new Set(numbers).size, numbers.length, "a number archived twice");
  return fates;
}

/** A complete delivered order like a seeded one, under another id and number. */
async function cloneOrder(db: Db, like: Document, _id: unknown, number: string): Promise<void> {
  await db.collection("Commande").insertOne({ ...like, _id, numero_commande: number } as Document);
}

const ID_SHAPES: Array<[string, unknown]> = [
  ["ObjectId", new ObjectId()],
  ["string", "A-0001"],
  ["int", 7],
  ["long", Long.fromString("9007199254740993")],
  ["double", 2.5],
  ["decimal", Decimal128.fromString("12.75")],
  ["1 beside", 1],
  ['"1" beside', "1"],
  ["document", { shop: 3, n: 12 }],
  ["another document", { shop: 3, n: 13 }],
  ["document in other field order", { n: 12, shop: 3 }],
  ["UUID", new UUID()],
];

for (const path of PATHS) {
  Deno.test(`${path} path: orders with ids of every BSON type are each archived once`, async () => {
    await using t = await testDatabase(`identity_shapes_${path}`);
    const seeded = await seedOrders(t.db, { complete: 1, incomplete: 0, notDelivered: 0 });
    const like = seeded.orders.get(seeded.complete[0]!) as Document;
    await t.db.collection("Commande").deleteMany({});
    for (const [i, [, id]] of ID_SHAPES.entries()) {
      await cloneOrder(t.db, like, id, `ID-${String(i).padStart(3, "0")}`);
    }
    await ensureArchiveIndex(t.db.collection("Historique"));
    const first = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.equal(first.archived, ID_SHAPES.length);
    const fates = await assertInvariant(t.db);
    for (const [name, id] of ID_SHAPES) {
      assert.equal(fates.get(orderIdKey(id)), "archived", name);
      const document = await t.db.collection("Historique").findOne({ order_id: id } as Document);
      assert.equal(orderIdKey(document?.order_id), orderIdKey(id), name);
    }
    const again = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.deepEqual([again.archived, again.alreadyArchived], [0, ID_SHAPES.length]);
    assert.equal(await t.db.collection("Historique").countDocuments(), ID_SHAPES.length);
  });

  Deno.test(`${path} path: a number archived for another order is a conflict, never dropped`, async () => {
    await using t = await testDatabase(`identity_reused_${path}`);
    // The README's "start over": orders archived, the source dropped and simulated again with
    // the archive kept, so numbers start again at CMD-000001 under new ids.
    await seedOrders(t.db, { complete: 4, incomplete: 0, notDelivered: 0 });
    await ensureArchiveIndex(t.db.collection("Historique"));
    await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    const before = await t.db.collection("Historique").find().toArray();
    const holder = new Map(before.map((d) => [d.numero_commande, d.order_id]));
    for (const name of ["Commande", "Client", "Livreur", "Restaurants", "Menu"]) {
      await t.db.collection(name).deleteMany({});
    }
    await seedOrders(t.db, { complete: 4, incomplete: 0, notDelivered: 0 });
    const outcome = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.deepEqual([outcome.archived, outcome.conflicts], [0, 4]);
    assert.equal(await t.db.collection("Historique").countDocuments(), 4, "the old copies kept");
    const fates = await assertInvariant(t.db);
    assert.deepEqual([...new Set(fates.values())], ["conflict"]);
    for (const entry of await t.db.collection("archiver_quarantine").find().toArray()) {
      const other = holder.get(entry.numero_commande);
      assert.equal(orderIdKey(entry.conflict_with), orderIdKey(other));
      assert.match(
        entry.detail,
        new RegExp(`archived for another order, _id ObjectId\\("${other}"\\)`),
      );
    }
    // Once the old copy is gone (the operator's decision), the retry archives the new order.
    await t.db.collection("Historique").deleteMany({});
    const retried = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.deepEqual([retried.archived, retried.recovered], [4, 4]);
    assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
  });

  Deno.test(`${path} path: an archived order renumbered later stays archived once`, async () => {
    await using t = await testDatabase(`identity_renumbered_${path}`);
    const seeded = await seedOrders(t.db, { complete: 3, incomplete: 0, notDelivered: 0 });
    await ensureArchiveIndex(t.db.collection("Historique"));
    await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    const renumbered = seeded.orders.get(seeded.complete[0]!) as Document;
    await t.db.collection("Commande").updateOne({ _id: renumbered._id }, {
      $set: { numero_commande: "CMD-999999" },
    });
    const outcome = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.deepEqual([outcome.archived, outcome.alreadyArchived, outcome.conflicts], [0, 3, 0]);
    assert.equal(
      await t.db.collection("Historique").countDocuments({ order_id: renumbered._id }),
      1,
    );
    await assertInvariant(t.db);
  });

  Deno.test(`${path} path: two orders sharing a number in one batch: the lowest _id archived, the other a conflict`, async () => {
    await using t = await testDatabase(`identity_twins_${path}`);
    const seeded = await seedOrders(t.db, { complete: 2, incomplete: 0, notDelivered: 0 });
    const like = seeded.orders.get(seeded.complete[0]!) as Document;
    await t.db.collection("Commande").dropIndexes(); // a source that lets two orders share a number
    const low = new ObjectId("000000000000000000000001");
    const high = new ObjectId("ffffffffffffffffffffffff");
    await cloneOrder(t.db, like, high, "CMD-TWIN");
    await cloneOrder(t.db, like, low, "CMD-TWIN");
    await ensureArchiveIndex(t.db.collection("Historique"));
    const outcome = await archiveOrders(await deliveredRefs(t.db), options(t.db, path));
    assert.deepEqual([outcome.archived, outcome.conflicts], [3, 1]);
    const fates = await assertInvariant(t.db);
    assert.equal(fates.get(orderIdKey(low)), "archived");
    assert.equal(fates.get(orderIdKey(high)), "conflict");
    const entry = await t.db.collection("archiver_quarantine").findOne({ _id: high });
    assert.equal(orderIdKey(entry?.conflict_with), orderIdKey(low));
  });
}

Deno.test("a dry run names the same conflicts as the real run", async () => {
  await using t = await testDatabase("identity_dry_run");
  const seeded = await seedOrders(t.db, { complete: 2, incomplete: 0, notDelivered: 0 });
  const like = seeded.orders.get(seeded.complete[0]!) as Document;
  await t.db.collection("Commande").dropIndexes();
  await cloneOrder(t.db, like, "B", "CMD-TWIN");
  await cloneOrder(t.db, like, "A", "CMD-TWIN");
  await ensureArchiveIndex(t.db.collection("Historique"));
  const dry = await archiveOrders(await deliveredRefs(t.db), {
    ...options(t.db, "server"),
    dryRun: true,
  });
  const real = await archiveOrders(await deliveredRefs(t.db), options(t.db, "server"));
  assert.deepEqual([dry.archived, dry.conflicts], [real.archived, real.conflicts]);
  assert.equal(await t.db.collection("Historique").countDocuments({ order_id: "A" }), 1);
});
