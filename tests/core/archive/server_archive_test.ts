import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { BSON, type Db, Decimal128, type Document, MongoClient } from "mongodb";
import { getLogger } from "@logtape/logtape";
import {
  type ArchiveOptions,
  archiveOrders,
  type OrderRef,
} from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { ConfigError } from "../../../core/runtime/errors.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { testDatabase } from "../../support/test_db.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);

async function refs(db: Db): Promise<OrderRef[]> {
  return await db.collection("Commande").find({}, { projection: { numero_commande: 1 } })
    .sort({ _id: 1 }).toArray();
}

function options(db: Db, extra: Partial<ArchiveOptions> = {}): ArchiveOptions {
  return { db, names, log, archivedBy: "batch", deliveredStatus: "livrée", ...extra };
}

/** Sets `failCommand` on the orders collection's commands only, so other tests' are untouched. */
async function failOnOrders(db: Db, data: Document | undefined, times = 1): Promise<void> {
  await db.admin().command(
    data
      ? {
        configureFailPoint: "failCommand",
        mode: { times },
        data: { namespace: `${db.databaseName}.Commande`, ...data },
      }
      : { configureFailPoint: "failCommand", mode: "off" },
  );
}

// The archive document without what differs by path and run: the id and the archiving time.
function comparable(document: Document): Document {
  const { _id, archived_at, ...rest } = document;
  assert.ok(archived_at instanceof Date, "archived_at is a date");
  return rest;
}

Deno.test("archiving on the server writes the same archive documents as the client path", async () => {
  await using server = await testDatabase("merge_same_server");
  await using client = await testDatabase("merge_same_client");
  await seedOrders(server.db, { complete: 30, incomplete: 4, notDelivered: 3 });
  // The same data in both databases.
  for (const name of ["Commande", "Client", "Livreur", "Restaurants", "Menu"]) {
    const documents = await server.db.collection(name).find().toArray();
    if (documents.length > 0) await client.db.collection(name).insertMany(documents);
  }
  for (const t of [server, client]) await ensureArchiveIndex(t.db.collection("Historique"));
  const onServer = await archiveOrders(await refs(server.db), options(server.db));
  const onClient = await archiveOrders(
    await refs(client.db),
    options(client.db, { path: "client" }),
  );
  assert.equal(onServer.path, "server");
  assert.equal(onClient.path, "client");
  const figures = (o: typeof onServer) => [o.archived, o.incomplete, o.invalid, o.duplicates];
  assert.deepEqual(figures(onServer), [30, 4, 0, 0]);
  assert.deepEqual(figures(onServer), figures(onClient));
  assert.equal(onServer.documents.length, 0, "the archive documents stay on the server");
  const read = async (db: Db) =>
    (await db.collection("Historique").find().sort({ numero_commande: 1 }).toArray()).map(
      comparable,
    );
  assert.deepEqual(await read(server.db), await read(client.db));
  const quarantine = async (db: Db) =>
    (await db.collection("archiver_quarantine").find().sort({ _id: 1 }).toArray()).map((
      q,
    ) => [q.numero_commande, q.reason, q.detail]);
  assert.deepEqual(await quarantine(server.db), await quarantine(client.db));
});

for (const path of ["server", "client"] as const) {
  Deno.test(`archiving on the ${path} keeps each order verbatim as source, byte for byte`, async () => {
    await using t = await testDatabase(`merge_source_${path}`);
    await seedOrders(t.db, { complete: 5, incomplete: 0, notDelivered: 0 });
    // Field order and BSON types of the stored order, with a field the tool does not know.
    await t.db.collection("Commande").updateMany({}, {
      $set: { pourboire: new Decimal128("1.50"), note_interne: { b: 2, a: 1 } },
    });
    await ensureArchiveIndex(t.db.collection("Historique"));
    const outcome = await archiveOrders(await refs(t.db), options(t.db, { path }));
    assert.equal(outcome.archived, 5);
    const raw = { promoteValues: false, promoteLongs: false, promoteBuffers: false };
    const orders = await t.db.collection("Commande").find({}, raw).sort({ _id: 1 }).toArray();
    const archived = await t.db.collection("Historique").find({}, raw).sort({ order_id: 1 })
      .toArray();
    assert.deepEqual(
      archived.map((a) => Buffer.from(BSON.serialize(a.source)).toString("hex")),
      orders.map((o) => Buffer.from(BSON.serialize(o)).toString("hex")),
    );
  });
}

Deno.test("server-side counts are exact: already archived, repeated numbers, and a second call", async () => {
  await using t = await testDatabase("merge_counts");
  const seeded = await seedOrders(t.db, { complete: 10, incomplete: 0, notDelivered: 0 });
  const orders = t.db.collection("Commande");
  await orders.dropIndexes();
  await ensureArchiveIndex(t.db.collection("Historique"));
  // Three orders archived by an earlier run (through the client), and one legacy order that
  // repeats the number of another.
  const all = await refs(t.db);
  await archiveOrders(all.slice(0, 3), options(t.db, { path: "client" }));
  const twin = { ...(seeded.orders.get(seeded.complete[9]!) as Document) };
  delete twin._id;
  await orders.insertOne(twin);

  const outcome = await archiveOrders(await refs(t.db), options(t.db));
  assert.equal(outcome.path, "server");
  assert.equal(outcome.alreadyArchived, 3);
  assert.equal(outcome.archived, 7, "the 7 not yet archived, one of the twins among them");
  assert.equal(outcome.duplicates, 0);
  assert.equal(outcome.conflicts, 1, "the other twin: its number is archived for another order");
  assert.equal(await t.db.collection("Historique").countDocuments(), 10);

  const again = await archiveOrders(await refs(t.db), options(t.db));
  assert.deepEqual([again.archived, again.alreadyArchived + again.duplicates], [0, 10]);
  assert.equal(again.conflicts, 0, "counted once, when first seen");
  assert.equal(again.stillQuarantined.conflict, 1);
  assert.deepEqual(
    (await t.db.collection("archiver_quarantine").find().toArray()).map((q) => q.reason),
    ["conflict"],
  );
});

Deno.test("server-side counts stay exact when the outcome comes back in several documents (over 1,000 orders)", async () => {
  await using t = await testDatabase("merge_counts_large");
  await seedOrders(t.db, { complete: 2_300, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  const all = await refs(t.db);
  await archiveOrders(all.slice(0, 1_100), options(t.db));

  const outcome = await archiveOrders(all, options(t.db));
  assert.equal(outcome.path, "server");
  assert.deepEqual(
    [outcome.archived, outcome.alreadyArchived, outcome.duplicates],
    [1_200, 1_100, 0],
    "2,300 archive documents read back in three parts: each order counted once",
  );
  assert.equal(await t.db.collection("Historique").countDocuments(), 2_300);
});

// Each row makes the merge's first attempt fail in one way the server really does; the
// archive must end with every order once and the counts must say so, whatever was written
// before the failure.
const MERGE_FAULTS: Array<[string, Document]> = [
  ["the connection closed before the merge ran", {
    failCommands: ["aggregate"],
    closeConnection: true,
  }],
  ["a step-down answered the merge (189)", { failCommands: ["aggregate"], errorCode: 189 }],
  [
    "the merge applied but the majority did not confirm it (writeConcernError 64)",
    {
      failCommands: ["aggregate"],
      writeConcernError: {
        code: 64,
        codeName: "WriteConcernFailed",
        errmsg: "waiting for replication timed out",
      },
    },
  ],
];

for (const [name, fault] of MERGE_FAULTS) {
  Deno.test(`server-side archiving after ${name}: every order once, counted once`, async () => {
    await using t = await testDatabase("merge_fault");
    await seedOrders(t.db, { complete: 12, incomplete: 2, notDelivered: 0 });
    await ensureArchiveIndex(t.db.collection("Historique"));
    await failOnOrders(t.db, fault);
    try {
      const outcome = await archiveOrders(await refs(t.db), options(t.db));
      assert.equal(outcome.path, "server");
      assert.deepEqual([outcome.archived, outcome.duplicates, outcome.incomplete], [12, 0, 2]);
    } finally {
      await failOnOrders(t.db, undefined);
    }
    assert.equal(await t.db.collection("Historique").countDocuments(), 12);
    assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 2);
  });
}

// Each row is a way a server refuses the merge pipeline itself: the tool says so once and
// archives through the client from then on.
const REFUSALS: Array<[string, number]> = [
  ["an unknown stage (a server before 4.2 or 5.0)", 40324],
  ["a role without the right", 13],
  ["an Atlas tier that refuses the stage", 8000],
];

for (const [name, code] of REFUSALS) {
  Deno.test(`a server that refuses $merge (${name}): archived through the client, said once`, async () => {
    await using t = await testDatabase("merge_refused");
    await seedOrders(t.db, { complete: 6, incomplete: 1, notDelivered: 0 });
    await ensureArchiveIndex(t.db.collection("Historique"));
    // A fresh client: the refusal is remembered per database handle, as in a run of the tool.
    await using connection = await _connect(t.uri);
    const db = connection.client.db(t.db.databaseName);
    const warnings: string[] = [];
    const logger = {
      ...log,
      warn: (message: string) => void warnings.push(message),
    } as unknown as typeof log;
    const all = await refs(db);
    await failOnOrders(db, { failCommands: ["aggregate"], errorCode: code });
    let first;
    try {
      first = await archiveOrders(all.slice(0, 4), { ...options(db), log: logger });
    } finally {
      await failOnOrders(db, undefined);
    }
    assert.equal(first.path, "client");
    assert.equal(first.archived, 4);
    const second = await archiveOrders(all.slice(4), { ...options(db), log: logger });
    assert.equal(second.path, "client", "the refusal is kept: no merge is tried again");
    assert.deepEqual([second.archived, second.incomplete], [2, 1]);
    assert.equal(warnings.filter((w) => /refused to archive on its side/.test(w)).length, 1);
    assert.match(warnings[0]!, new RegExp(String(code)));
    assert.equal(await db.collection("Historique").countDocuments(), 6);
  });
}

Deno.test("an archive dropped and restored without its index: the index is made again and orders archived", async () => {
  await using t = await testDatabase("merge_no_index");
  await seedOrders(t.db, { complete: 5, incomplete: 0, notDelivered: 0 });
  const archive = t.db.collection("Historique");
  await ensureArchiveIndex(archive);
  const all = await refs(t.db);
  await archiveOrders(all.slice(0, 2), options(t.db));
  // The operator restores the archive from a dump without its indexes.
  const saved = await archive.find().toArray();
  await archive.drop();
  await archive.insertMany(saved);

  const outcome = await archiveOrders(all, options(t.db));
  assert.deepEqual([outcome.archived, outcome.alreadyArchived], [3, 2]);
  const indexes = await archive.indexes();
  assert.ok(
    indexes.some((i) => i.unique && i.key.numero_commande === 1 && !i.partialFilterExpression),
  );
  assert.equal(await archive.countDocuments(), 5);
});

Deno.test("an archive whose index is gone again at once stops with a configuration error, nothing written", async () => {
  await using t = await testDatabase("merge_index_gone");
  await seedOrders(t.db, { complete: 3, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  // The merge answers 51183 twice: before the index is made again, and after.
  await failOnOrders(t.db, { failCommands: ["aggregate"], errorCode: 51183 }, 2);
  let error: unknown;
  try {
    error = await archiveOrders(await refs(t.db), options(t.db)).then(() => undefined, (e) => e);
  } finally {
    await failOnOrders(t.db, undefined);
  }
  assert.ok(error instanceof ConfigError, String(error));
  assert.match((error as Error).message, /no unique index on order_id .* 51183/);
  assert.equal(await t.db.collection("Historique").countDocuments(), 0);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
});

Deno.test("server-side archiving reads back only the documents asked for", async () => {
  await using t = await testDatabase("merge_samples");
  await seedOrders(t.db, { complete: 8, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(t.db.collection("Historique"));
  const outcome = await archiveOrders(
    await refs(t.db),
    options(t.db, { documentsWanted: () => 3 }),
  );
  assert.equal(outcome.archived, 8);
  assert.equal(outcome.documents.length, 3);
  for (const document of outcome.documents) {
    assert.equal(typeof document.numero_commande, "string");
    assert.equal(document.archived_by, "batch");
    assert.ok(Array.isArray(document.items));
  }
});

async function _connect(uri: string) {
  const client = await new MongoClient(uri).connect();
  return { client, [Symbol.asyncDispose]: () => client.close() };
}
