import assert from "node:assert/strict";
import { type ChangeStreamDocument, type Document, ObjectId } from "mongodb";
import { calculateObjectSize } from "bson";
import { tempDir } from "../../support/cli.ts";
import { assertArchivedOrQuarantined } from "../../support/faults.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";
import {
  deliveryPipeline,
  openOrderStream,
  readMicroBatches,
} from "../../../plugins/watch/stream_loop.ts";

const DELIVERED = "livrée";

/** One change to the orders collection, and whether the stream must show it. */
interface Change {
  name: string;
  /** The operation type the stream shows, or null when it must show nothing. */
  shows: string | null;
  apply(orders: import("mongodb").Collection<Document>, id: ObjectId): Promise<unknown>;
}

const base = (id: ObjectId, status: string) => ({
  _id: id,
  numero_commande: `CMD-${id.toHexString()}`,
  status,
  adresse_livraison: "12 rue des Lilas",
});

// The stream carries the events that deliver an order, and only them: the same set as a filter
// on the post-image's status, less the changes of an order that was delivered already.
const CHANGES: Change[] = [
  {
    name: "an order inserted delivered",
    shows: "insert",
    apply: (o, id) => o.insertOne(base(id, DELIVERED)),
  },
  {
    name: "an order inserted pending",
    shows: null,
    apply: (o, id) => o.insertOne(base(id, "en_attente")),
  },
  {
    name: "an order updated to delivered",
    shows: "update",
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_livraison"));
      await o.updateOne({ _id: id }, { $set: { status: DELIVERED, date_livraison: new Date() } });
    },
  },
  {
    name: "an order updated to cancelled",
    shows: null,
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_livraison"));
      await o.updateOne({ _id: id }, { $set: { status: "annulée" } });
    },
  },
  {
    name: "a delivered order changed without its status changing",
    shows: "insert", // its insert only
    apply: async (o, id) => {
      await o.insertOne(base(id, DELIVERED));
      await o.updateOne({ _id: id }, {
        $set: { status: DELIVERED, adresse_livraison: "ailleurs" },
      });
    },
  },
  {
    name: "a pending order changed without its status",
    shows: null,
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_preparation"));
      await o.updateOne({ _id: id }, { $set: { "items.0.quantite": 2, note: "x" } });
    },
  },
  {
    name: "an order replaced by a delivered one",
    shows: "replace",
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_livraison"));
      await o.replaceOne({ _id: id }, { ...base(id, DELIVERED), date_livraison: new Date() });
    },
  },
  {
    name: "an order replaced by a pending one",
    shows: null,
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_livraison"));
      await o.replaceOne({ _id: id }, base(id, "en_attente"));
    },
  },
  {
    name: "an order deleted",
    shows: null,
    apply: async (o, id) => {
      await o.insertOne(base(id, "en_livraison"));
      await o.deleteOne({ _id: id });
    },
  },
];

const KEPT = ["_id", "clusterTime", "documentKey", "ns", "operationType", "wallTime"];

Deno.test("the change stream shows each delivery once, cut to the resume token, the order's _id and the times", async (t) => {
  await using tdb = await testDatabase("watch_stream_filter");
  const orders = tdb.db.collection("Commande");
  await orders.insertOne({ _id: new ObjectId(), status: "en_attente" }); // the collection exists
  for (const change of CHANGES) {
    await t.step(change.name, async () => {
      const stream = openOrderStream(tdb.db, { kind: "now" }, {
        orders: "Commande",
        deliveredStatus: DELIVERED,
        batchMax: 100,
        maxAwaitMs: 200,
      });
      try {
        assert.equal(await stream.tryNext(), null); // opens the stream before the change
        const id = new ObjectId();
        await change.apply(orders, id);
        await orders.insertOne({ _id: new ObjectId(), status: DELIVERED, marker: true });
        const seen: ChangeStreamDocument[] = [];
        // Read up to the marker, inserted after the change: what came before is all the change showed.
        while (true) {
          const event = await stream.tryNext();
          if (!event) continue;
          const key = (event as { documentKey?: { _id: unknown } }).documentKey?._id;
          if (key instanceof ObjectId && !key.equals(id)) break;
          seen.push(event);
        }
        assert.deepEqual(seen.map((e) => e.operationType), change.shows ? [change.shows] : []);
        for (const event of seen) {
          assert.deepEqual(Object.keys(event).sort(), KEPT);
          assert.ok((event as { documentKey: { _id: ObjectId } }).documentKey._id.equals(id));
        }
      } finally {
        await stream.close();
      }
    });
  }
});

Deno.test("the change stream's events stay small whatever the order's size", async () => {
  await using tdb = await testDatabase("watch_stream_large");
  const orders = tdb.db.collection("Commande");
  const id = new ObjectId();
  // 7 MB before and 7 MB set by the update: the update's description and the post-image
  // together would pass the 16 MB a change event may weigh.
  await orders.insertOne({ ...base(id, "en_livraison"), adresse_livraison: "a".repeat(7 << 20) });
  const stream = openOrderStream(tdb.db, { kind: "now" }, {
    orders: "Commande",
    deliveredStatus: DELIVERED,
    batchMax: 100,
    maxAwaitMs: 200,
  });
  try {
    assert.equal(await stream.tryNext(), null);
    await orders.updateOne({ _id: id }, {
      $set: { status: DELIVERED, adresse_livraison: "b".repeat(7 << 20) },
    });
    let event: ChangeStreamDocument | null = null;
    while (!event) event = await stream.tryNext();
    assert.equal(event.operationType, "update");
    const size = calculateObjectSize(event as Document);
    assert.ok(size < 400, `the event weighs ${size} bytes`);
  } finally {
    await stream.close();
  }
});

Deno.test("deliveryPipeline() keeps the resume token unchanged and asks for no post-image", () => {
  const pipeline = deliveryPipeline(DELIVERED);
  const project = pipeline.at(-1)?.$project as Document;
  assert.equal(project._id, 1);
  assert.ok(!JSON.stringify(pipeline).includes('fullDocument":'));
  assert.ok(!JSON.stringify(pipeline).includes("updateLookup"));
});

Deno.test("an order near 16 MB updated to delivered is archived or quarantined and the stream goes on", async () => {
  await using tdb = await testDatabase("watch_large_order");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 2 });
  const [large, next] = seeded.notDelivered as [string, string];
  const orders = tdb.db.collection("Commande");
  // The largest order the server stores is 16 MB: 7.5 MB of address, then 7.5 MB more of items
  // set by the same update that delivers it.
  const courier = [...seeded.couriers.values()][0]!._id;
  await orders.updateMany({ numero_commande: { $in: [large, next] } }, {
    $set: { status: "en_livraison", livreur_id: courier },
  });
  await orders.updateOne({ numero_commande: large }, {
    $set: { adresse_livraison: "a".repeat(15 << 19) },
  });
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  const model = seeded.orders.get(large)!;
  const filler = { ...(model.items as Document[])[0], note: "b".repeat(1 << 10) };
  await orders.updateOne({ numero_commande: large }, {
    $set: {
      status: DELIVERED,
      date_livraison: new Date(),
      note_livraison: "c".repeat(15 << 19),
      extra_items: Array.from({ length: 8 }, () => filler),
    },
  });
  await orders.updateOne({ numero_commande: next }, {
    $set: { status: DELIVERED, date_livraison: new Date() },
  });
  const archive = tdb.db.collection("Historique");
  const quarantine = tdb.db.collection("archiver_quarantine");
  await eventually(
    async () =>
      await archive.countDocuments({ numero_commande: next }) === 1 &&
      await archive.countDocuments({ numero_commande: large }) +
            await quarantine.countDocuments({ numero_commande: large }) === 1,
    30_000,
    "both orders archived or quarantined",
  );
  await watcher.stop();
  const counts = await assertArchivedOrQuarantined(tdb.db, {
    expectedReasons: { [large]: ["archived", "error"] },
  });
  assert.equal(counts.archived + counts.quarantined, 2);
});

Deno.test("readMicroBatches() says the stream is open before its first read ends, and a stop does not wait for a read in flight", async () => {
  await using tdb = await testDatabase("watch_stream_stop");
  await tdb.db.collection("Commande").insertOne({ _id: new ObjectId(), status: "en_attente" });
  // An idle read waits a minute: longer than the test may take.
  const stream = openOrderStream(tdb.db, { kind: "now" }, {
    orders: "Commande",
    deliveredStatus: DELIVERED,
    batchMax: 100,
    maxAwaitMs: 60_000,
  });
  const controller = new AbortController();
  let reads = 0;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => opened = resolve);
  try {
    const loop = readMicroBatches(stream, {
      onRead: () => reads++,
      onOpen: () => Promise.resolve(opened()),
      onBatch: () => Promise.resolve(),
      onIdle: () => Promise.resolve(),
      batchMax: 100,
      batchWaitMs: 0,
      signal: controller.signal,
    });
    await open;
    assert.equal(
      reads,
      0,
      "open once the server accepted the stream, its first read still waiting",
    );
    controller.abort();
    assert.equal(await loop, undefined);
    assert.equal(reads, 0, "stopped with the read still in flight");
  } finally {
    await stream.close();
  }
});
