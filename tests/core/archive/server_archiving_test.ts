/**
 * Archiving on the server (`$merge`) and through the client: the same archive documents, exact
 * counts at two round trips per batch, and the fallback when the server refuses `$merge`.
 */

import assert from "node:assert/strict";
import { type CommandStartedEvent, type Db, type Document, MongoClient } from "mongodb";
import { getLogger } from "@logtape/logtape";
import {
  type ArchiveOptions,
  archiveOrders,
  type OrderRef,
} from "../../../core/archive/archiver.ts";
import { Quarantine } from "../../../core/archive/quarantine.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { type TestDatabase, testDatabase } from "../../support/test_db.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);

// The archive's documented schema (README "Schema of the archive"), and nothing more.
const ARCHIVE_FIELDS = [
  "_id",
  "order_id",
  "numero_commande",
  "date_commande",
  "date_livraison",
  "status",
  "client_id",
  "restaurant_id",
  "livreur_id",
  "adresse_livraison",
  "client",
  "livreur",
  "restaurant",
  "items",
  "montant_total",
  "duree_livraison_minutes",
  "complete",
  "missing",
  "missing_menu_ids",
  "archived_at",
  "archived_by",
].sort();

async function refs(db: Db): Promise<OrderRef[]> {
  return await db.collection("Commande").find({ status: "livrée" }, {
    projection: { numero_commande: 1 },
  }).toArray();
}

function options(db: Db, more: Partial<ArchiveOptions> = {}): ArchiveOptions {
  return { db, names, log, archivedBy: "batch", deliveredStatus: "livrée", ...more };
}

/** A second client on the test's database that records every command it sends. */
async function monitored(t: TestDatabase) {
  const client = new MongoClient(t.uri, { monitorCommands: true });
  await client.connect();
  const events: CommandStartedEvent[] = [];
  client.on("commandStarted", (event) => events.push(event));
  return {
    db: client.db(t.dbName),
    events,
    merges: () =>
      events.filter((e) =>
        e.commandName === "aggregate" &&
        (e.command.pipeline as Document[]).some((stage) => "$merge" in stage)
      ).length,
    [Symbol.asyncDispose]: () => client.close(),
  };
}

function withoutVolatile(document: Document): Document {
  const { _id: _, archived_at: __, ...rest } = document;
  return rest;
}

Deno.test("archiveOrders() on the server writes exactly the documents the client path writes, in the documented schema", async () => {
  await using t = await testDatabase("server_same_documents");
  await seedOrders(t.db, { complete: 6, incomplete: 0, notDelivered: 2 });
  const archive = t.db.collection("Historique");
  await ensureArchiveIndex(archive);
  const byClient = await archiveOrders(await refs(t.db), options(t.db, { path: "client" }));
  const clientDocuments = await archive.find({}, { sort: { numero_commande: 1 } }).toArray();
  await archive.deleteMany({});
  const before = new Date(Date.now() - 1_000);
  const byServer = await archiveOrders(await refs(t.db), options(t.db));
  const serverDocuments = await archive.find({}, { sort: { numero_commande: 1 } }).toArray();

  assert.deepEqual([byServer.archived, byServer.duplicates], [byClient.archived, 0]);
  assert.equal(serverDocuments.length, 6);
  assert.deepEqual(serverDocuments.map(withoutVolatile), clientDocuments.map(withoutVolatile));
  for (const document of serverDocuments) {
    assert.deepEqual(Object.keys(document).sort(), ARCHIVE_FIELDS);
    assert.ok(document.archived_at instanceof Date && document.archived_at >= before);
  }
});

Deno.test("archiveOrders() on the server costs two round trips per batch and counts a re-run as already archived", async () => {
  await using t = await testDatabase("server_round_trips");
  await seedOrders(t.db, { complete: 40, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  await using m = await monitored(t);
  const orders = await refs(m.db);
  // A loaded quarantine knows it holds none of them: releasing costs nothing.
  const quarantine = new Quarantine(m.db.collection("archiver_quarantine"), {
    retryIntervalMs: 60_000,
  });
  await quarantine.load();
  m.events.length = 0;
  const first = await archiveOrders(orders, options(m.db, { quarantine }));
  assert.deepEqual([first.archived, first.alreadyArchived, first.duplicates], [40, 0, 0]);
  assert.equal(m.events.length, 2, m.events.map((e) => e.commandName).join(", "));
  assert.equal(m.merges(), 1);
  assert.equal(first.documents.length, 0, "no document comes to the client without a sample");

  m.events.length = 0;
  const again = await archiveOrders(orders, options(m.db, { quarantine }));
  assert.deepEqual([again.archived, again.alreadyArchived, again.duplicates], [0, 40, 0]);
  assert.equal(m.events.length, 2);
  assert.equal(await t.db.collection("Historique").countDocuments(), 40);
});

Deno.test("archiveOrders() calls running at once over the same orders archive each once, and each count adds up", async () => {
  await using t = await testDatabase("server_concurrent");
  await seedOrders(t.db, { complete: 60, incomplete: 3, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  const orders = await refs(t.db);
  const outcomes = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      archiveOrders(orders, options(t.db, { archivedBy: i % 2 ? "batch" : "watch" }))
    ),
  );
  const archived = outcomes.reduce((sum, o) => sum + o.archived, 0);
  assert.equal(archived, 60, "each order counted archived by exactly one call");
  for (const o of outcomes) {
    assert.equal(o.archived + o.alreadyArchived + o.duplicates, 60);
    assert.equal(o.incomplete, 3);
  }
  assert.equal(await t.db.collection("Historique").countDocuments(), 60);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 3);
});

Deno.test("archiveOrders() counts an order another writer archived after the merge began as a duplicate", async () => {
  await using t = await testDatabase("server_duplicate");
  const seeded = await seedOrders(t.db, { complete: 3, incomplete: 0, notDelivered: 0 });
  const archive = t.db.collection("Historique");
  await ensureArchiveIndex(archive);
  // Another writer's document, stamped later than this call's merge: it won the race.
  await archive.insertOne({
    numero_commande: seeded.complete[0],
    archived_at: new Date(Date.now() + 60_000),
    archived_by: "watch",
  });
  const outcome = await archiveOrders(await refs(t.db), options(t.db));
  assert.deepEqual([outcome.archived, outcome.duplicates, outcome.alreadyArchived], [2, 1, 0]);
  assert.equal(await archive.countDocuments(), 3);
});

Deno.test("archiveOrders() says once that the server refused $merge, then archives through the client for the rest of the run", async () => {
  await using t = await testDatabase("server_refused");
  await seedOrders(t.db, { complete: 8, incomplete: 2, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  await using m = await monitored(t);
  const orders = await refs(m.db);
  // A role without the privilege: the merge aggregation (the first aggregate) is Unauthorized.
  await t.db.admin().command({
    configureFailPoint: "failCommand",
    mode: { times: 1 },
    data: { failCommands: ["aggregate"], errorCode: 13 },
  });
  try {
    const first = await archiveOrders(orders.slice(0, 5), options(m.db));
    const second = await archiveOrders(orders.slice(5), options(m.db));
    assert.equal(first.archived + second.archived, 8);
    assert.equal(first.incomplete + second.incomplete, 2);
  } finally {
    await t.db.admin().command({ configureFailPoint: "failCommand", mode: "off" });
  }
  assert.equal(m.merges(), 1, "the merge is tried once, then the client path is used");
  assert.ok(m.events.some((e) => e.commandName === "update"), "written as upserts");
  assert.equal(await t.db.collection("Historique").countDocuments(), 8);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 2);
});

Deno.test("archiveOrders() retries a merge cut off by the network and counts its orders archived once", async () => {
  await using t = await testDatabase("server_retry");
  await seedOrders(t.db, { complete: 12, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  await t.db.admin().command({
    configureFailPoint: "failCommand",
    mode: { times: 2 },
    data: { failCommands: ["aggregate"], closeConnection: true, appName: "archiver-retry" },
  });
  const client = new MongoClient(t.uri, { appName: "archiver-retry" });
  try {
    await client.connect();
    const outcome = await archiveOrders(await refs(t.db), options(client.db(t.dbName)));
    assert.deepEqual([outcome.archived, outcome.duplicates], [12, 0]);
  } finally {
    await t.db.admin().command({ configureFailPoint: "failCommand", mode: "off" });
    await client.close();
  }
  assert.equal(await t.db.collection("Historique").countDocuments(), 12);
});

Deno.test("the client path, chosen, archives and counts as the server path does", async () => {
  await using t = await testDatabase("client_path");
  await seedOrders(t.db, { complete: 5, incomplete: 2, notDelivered: 1 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  const outcome = await archiveOrders(await refs(t.db), options(t.db, { path: "client" }));
  assert.deepEqual([outcome.archived, outcome.incomplete], [5, 2]);
  const again = await archiveOrders(await refs(t.db), options(t.db, { path: "client" }));
  assert.deepEqual([again.archived, again.alreadyArchived], [0, 5]);
});

Deno.test("a dry run fetches only the sample it is asked for, and writes nothing", async (t) => {
  for (const [want, expected] of [[0, 0], [2, 2], [50, 4]] as const) {
    await t.step(`${want} wanted`, async () => {
      await using tdb = await testDatabase("server_dry");
      await seedOrders(tdb.db, { complete: 4, incomplete: 1, notDelivered: 0 });
      const outcome = await archiveOrders(
        await refs(tdb.db),
        options(tdb.db, { dryRun: true, wantDocuments: () => want }),
      );
      assert.deepEqual([outcome.archived, outcome.incomplete], [4, 1]);
      assert.equal(outcome.documents.length, expected);
      for (const document of outcome.documents) {
        assert.ok(!("invalid" in document));
        assert.equal(document.archived_by, "batch");
      }
      assert.equal(await tdb.db.collection("Historique").countDocuments(), 0);
      assert.equal(await tdb.db.collection("archiver_quarantine").countDocuments(), 0);
    });
  }
});

Deno.test("archiveOrders() on the server returns the archived documents a sample asks for, from the archive", async () => {
  await using t = await testDatabase("server_sample");
  await seedOrders(t.db, { complete: 5, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  const outcome = await archiveOrders(await refs(t.db), options(t.db, { wantDocuments: () => 3 }));
  assert.equal(outcome.documents.length, 3);
  for (const document of outcome.documents) {
    assert.deepEqual(Object.keys(document).sort(), ARCHIVE_FIELDS);
  }
});
