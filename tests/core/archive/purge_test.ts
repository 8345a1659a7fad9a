import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BSON, type Db, type Document } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { archiveOrders, type OrderRef } from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import {
  purgeArchived,
  type PurgeCounts,
  type PurgeOptions,
  reconcilePending,
} from "../../../core/archive/purge.ts";
import { countDeliveredOrders, verifyArchive } from "../../../core/archive/verify.ts";
import { testDatabase } from "../../support/test_db.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);
const DAY = 86_400_000;

/** Archives every delivered order, then dates the archive documents `ageDays` back, oldest first. */
async function archiveAll(db: Db, complete = 12): Promise<string[]> {
  const seeded = await seedOrders(db, { complete, incomplete: 0, notDelivered: 2 });
  await ensureArchiveIndex(db.collection("Historique"));
  const refs: OrderRef[] = await db.collection("Commande").find({ status: "livrée" }, {
    projection: { numero_commande: 1 },
  }).toArray();
  await archiveOrders(refs, { db, names, log, archivedBy: "batch", deliveredStatus: "livrée" });
  // The i-th order archived 100 - i days ago: the first ones are the oldest.
  for (const [i, number] of seeded.complete.entries()) {
    await db.collection("Historique").updateOne({ numero_commande: number }, {
      $set: { archived_at: new Date(Date.now() - (100 - i) * DAY) },
    });
  }
  return seeded.complete;
}

function options(db: Db, extra: Partial<PurgeOptions> = {}): PurgeOptions {
  return {
    db,
    names,
    log,
    runId: "test-run",
    criteria: { archivedBefore: new Date(Date.now() - 30 * DAY), legalHoldField: "legal_hold" },
    chunkSize: 4,
    ...extra,
  };
}

async function inSource(db: Db): Promise<string[]> {
  return (await db.collection("Commande").find({ status: "livrée" }).toArray())
    .map((o) => o.numero_commande as string).sort();
}

async function purgedNumbers(db: Db): Promise<string[]> {
  return (await db.collection("Historique").find({ purged_at: { $exists: true } }).toArray())
    .map((a) => a.numero_commande as string).sort();
}

/**
 * The invariant: every delivered order is in the source or recorded purged, and every purged
 * order's archive document holds the order as it was when deleted (the `source` its delete
 * compared).
 */
async function assertInvariant(db: Db, numbers: readonly string[]): Promise<void> {
  const source = new Set(await inSource(db));
  const archive = await db.collection("Historique").find().toArray();
  const purged = new Set(
    archive.filter((a) => a.purged_at instanceof Date).map((a) => a.numero_commande),
  );
  for (const number of numbers) {
    assert.ok(
      source.has(number) !== purged.has(number),
      `${number} is in the source or purged, exactly one (source ${source.has(number)})`,
    );
  }
  for (const a of archive) {
    assert.equal(a.purge_pending, undefined, `${a.numero_commande} has no pending mark left`);
    if (a.purged_at) assert.equal(a.source.numero_commande, a.numero_commande);
  }
}

Deno.test("purgeArchived() deletes the orders archived before the bound, oldest first, and records each", async () => {
  await using t = await testDatabase("purge_basic");
  const numbers = await archiveAll(t.db);
  // Archived 100..89 days ago; bound 95 days: the first five (100..96) go.
  const counts = await purgeArchived(options(t.db, {
    criteria: { archivedBefore: new Date(Date.now() - 95.5 * DAY), legalHoldField: "legal_hold" },
  }));
  assert.equal(counts.purged, 5);
  assert.deepEqual(await purgedNumbers(t.db), numbers.slice(0, 5));
  assert.deepEqual(await inSource(t.db), numbers.slice(5).sort());
  const first = await t.db.collection("Historique").findOne({ numero_commande: numbers[0] });
  assert.equal(first?.purged_by, "test-run");
  assert.equal(first?.legal_hold, false, "recorded not held: the archive TTL's filter");
  assert.ok(counts.bytes > 0);
  assert.equal(counts.chunks, 2, "chunks of 4: 4 then 1");
  await assertInvariant(t.db, numbers);
});

Deno.test("purgeArchived() leaves changed, held, excluded and proofless orders, each counted", async () => {
  await using t = await testDatabase("purge_left");
  const numbers = await archiveAll(t.db);
  const orders = t.db.collection("Commande");
  await orders.updateOne({ numero_commande: numbers[0] }, {
    $set: { adresse_livraison: "ailleurs" },
  });
  await orders.updateOne({ numero_commande: numbers[1] }, { $set: { legal_hold: true } });
  await t.db.collection("Historique").updateOne({ numero_commande: numbers[2] }, {
    $set: { legal_hold: true },
  });
  await t.db.collection("Historique").updateOne({ numero_commande: numbers[3] }, {
    $unset: { source: "" },
  });
  const counts = await purgeArchived(options(t.db, {
    criteria: {
      archivedBefore: new Date(Date.now() - 30 * DAY),
      legalHoldField: "legal_hold",
      exclude: { numero_commande: numbers[4] },
    },
  }));
  const figures = (c: PurgeCounts) => [c.purged, c.changed, c.held, c.noProof, c.excluded];
  // numbers[1]'s order changed (legal_hold added) and is held: the hold wins only on the
  // archive's side, so it counts as changed.
  assert.deepEqual(figures(counts), [7, 2, 1, 1, 1]);
  assert.deepEqual(await inSource(t.db), numbers.slice(0, 5).sort());
  await assertInvariant(t.db, numbers);
});

Deno.test("purgeArchived() keeps an order changed between the chunk query and its delete", async () => {
  await using t = await testDatabase("purge_race");
  const numbers = await archiveAll(t.db, 6);
  const counts = await purgeArchived(options(t.db, {
    chunkSize: 10,
    beforeDelete: async () => {
      await t.db.collection("Commande").updateOne({ numero_commande: numbers[2] }, {
        $set: { adresse_livraison: "changée pendant la purge" },
      });
    },
  }));
  assert.equal(counts.purged, 5);
  assert.equal(counts.changed, 1);
  assert.equal(counts.changedAtDelete, 1);
  assert.deepEqual(await inSource(t.db), [numbers[2]]);
  await assertInvariant(t.db, numbers);
});

Deno.test("purgeArchived() puts back an order whose archive document vanished before the delete", async () => {
  await using t = await testDatabase("purge_vanished");
  const numbers = await archiveAll(t.db, 6);
  const before = await t.db.collection("Commande").findOne({ numero_commande: numbers[3] }, {
    raw: true,
  } as never) as unknown as Uint8Array;
  const counts = await purgeArchived(options(t.db, {
    chunkSize: 10,
    beforeDelete: async () => {
      await t.db.collection("Historique").deleteOne({ numero_commande: numbers[3] });
    },
  }));
  assert.equal(counts.purged, 5);
  assert.equal(counts.putBack, 1);
  const after = await t.db.collection("Commande").findOne({ numero_commande: numbers[3] }, {
    raw: true,
  } as never) as unknown as Uint8Array;
  assert.equal(Buffer.from(after).toString("hex"), Buffer.from(before).toString("hex"));
  assert.deepEqual(await inSource(t.db), [numbers[3]]);
});

Deno.test("purgeArchived() in a dry run counts what the real run then does, touching nothing", async () => {
  await using t = await testDatabase("purge_dry");
  const numbers = await archiveAll(t.db);
  await t.db.collection("Commande").updateOne({ numero_commande: numbers[1] }, {
    $set: { status: "livrée", adresse_livraison: "x" },
  });
  const dry = await purgeArchived(options(t.db, { dryRun: true }));
  assert.deepEqual(await inSource(t.db), [...numbers].sort(), "nothing deleted");
  assert.deepEqual(await purgedNumbers(t.db), []);
  const real = await purgeArchived(options(t.db));
  const figures = (c: PurgeCounts) => [c.purged, c.bytes, c.changed, c.months];
  assert.deepEqual(figures(dry), figures(real));
  assert.equal(real.purged, 11);
});

for (
  const [name, data] of [
    ["the connection closed on the delete", { closeConnection: true }],
    ["a write-concern error on the delete", {
      writeConcernError: { code: 64, errmsg: "waiting for replication timed out" },
    }],
  ] as Array<[string, Document]>
) {
  Deno.test(`purgeArchived() after ${name}: every order deleted once with its record`, async () => {
    await using t = await testDatabase("purge_fault");
    const numbers = await archiveAll(t.db, 8);
    await t.db.admin().command({
      configureFailPoint: "failCommand",
      mode: { times: 1 },
      data: { failCommands: ["delete"], namespace: `${t.dbName}.Commande`, ...data },
    });
    try {
      const counts = await purgeArchived(options(t.db));
      assert.equal(counts.purged, 8);
    } finally {
      await t.db.admin().command({ configureFailPoint: "failCommand", mode: "off" });
    }
    assert.deepEqual(await inSource(t.db), []);
    await assertInvariant(t.db, numbers);
  });
}

Deno.test("reconcilePending() settles what an interrupted run left: gone is purged, present is cleared", async () => {
  await using t = await testDatabase("purge_reconcile");
  const numbers = await archiveAll(t.db, 4);
  const archive = t.db.collection("Historique");
  await archive.updateMany({ numero_commande: { $in: numbers.slice(0, 2) } }, {
    $set: { purge_pending: { run: "crashed", at: new Date() } },
  });
  // The first one's delete happened before the crash; the second one's did not.
  await t.db.collection("Commande").deleteOne({ numero_commande: numbers[0] });
  assert.equal(await reconcilePending(t.db, names, { log, runId: "next" }), 2);
  const first = await archive.findOne({ numero_commande: numbers[0] });
  assert.equal(first?.purged_by, "crashed");
  assert.equal(first?.purge_pending, undefined);
  await assertInvariant(t.db, numbers);
});

Deno.test("the delete's proof compares the whole order: one field changed in any BSON type is kept", async () => {
  await using t = await testDatabase("purge_types");
  const numbers = await archiveAll(t.db, 4);
  const orders = t.db.collection("Commande");
  await orders.updateOne({ numero_commande: numbers[0] }, { $set: { "items.0.quantite": 99 } });
  await orders.updateOne({ numero_commande: numbers[1] }, { $set: { extra: null } });
  await orders.updateOne({ numero_commande: numbers[2] }, { $unset: { adresse_livraison: "" } });
  const counts = await purgeArchived(options(t.db));
  assert.equal(counts.purged, 1);
  assert.equal(counts.changed, 3);
  assert.deepEqual(await inSource(t.db), numbers.slice(0, 3).sort());
  assert.ok(BSON.calculateObjectSize({}) > 0);
});

Deno.test("verify counts purged orders as purged, neither missing nor orphans; health's count agrees", async () => {
  await using t = await testDatabase("purge_verify");
  const numbers = await archiveAll(t.db, 6);
  await t.db.collection("Historique").updateOne({ numero_commande: numbers[5] }, {
    $set: { archived_at: new Date() },
  });
  const counts = await purgeArchived(options(t.db));
  assert.equal(counts.purged, 5);
  const report = await verifyArchive(t.db, names, { deliveredStatus: "livrée", log });
  assert.deepEqual(
    [report.totals.delivered, report.totals.archived, report.totals.purged, report.totals.missing],
    [6, 6, 5, 0],
  );
  assert.equal(report.anomalies.order_gone.count, 0);
  const health = await countDeliveredOrders(t.db, names, { deliveredStatus: "livrée" });
  assert.deepEqual(health.totals, report.totals);
  // A purged record whose order is back (restored by hand) is counted once, from the source.
  const back = await t.db.collection("Historique").findOne({ numero_commande: numbers[0] });
  await t.db.collection("Commande").insertOne(back!.source);
  const again = await countDeliveredOrders(t.db, names, { deliveredStatus: "livrée" });
  assert.deepEqual([again.totals.delivered, again.totals.purged], [6, 4]);
});
