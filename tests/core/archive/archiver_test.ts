import assert from "node:assert/strict";
import type { Document, ObjectId } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { archiveOrders } from "../../../core/archive/archiver.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { Quarantine } from "../../../core/archive/quarantine.ts";
import { testDatabase } from "../../support/test_db.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);

// Each row breaks one delivered order in one way; the expected reason and a word of the detail.
const MALFORMED: Array<[string, Document, "invalid" | "incomplete", RegExp]> = [
  ["no date_livraison", { $unset: { date_livraison: "" } }, "invalid", /date_livraison is missing/],
  ["null date_livraison", { $set: { date_livraison: null } }, "invalid", /date_livraison is null/],
  [
    "string date_livraison",
    { $set: { date_livraison: "hier" } },
    "invalid",
    /date_livraison is string/,
  ],
  [
    "string date_commande",
    { $set: { date_commande: "2025-10-01" } },
    "invalid",
    /date_commande is string/,
  ],
  [
    "string quantite",
    { $set: { "items.0.quantite": "3" } },
    "invalid",
    /quantite that is not a number/,
  ],
  ["items a string", { $set: { items: "pizza" } }, "invalid", /items is string, not an array/],
  [
    "items a document",
    { $set: { items: { menu_id: 1, quantite: 1 } } },
    "invalid",
    /items is object/,
  ],
  ["items null", { $set: { items: null } }, "invalid", /items is null/],
  ["no items", { $unset: { items: "" } }, "invalid", /items is missing/],
  ["an item without menu_id", { $unset: { "items.0.menu_id": "" } }, "invalid", /no menu_id/],
  ["an item that is a number", { $set: { "items.0": 7 } }, "invalid", /are not documents/],
  [
    "no numero_commande",
    { $unset: { numero_commande: "" } },
    "invalid",
    /numero_commande is missing/,
  ],
  [
    "null numero_commande",
    { $set: { numero_commande: null } },
    "invalid",
    /numero_commande is null/,
  ],
  [
    "numeric numero_commande",
    { $set: { numero_commande: 42 } },
    "invalid",
    /numero_commande is int/,
  ],
  ["empty numero_commande", { $set: { numero_commande: "" } }, "invalid", /not a non-empty string/],
  ["no client_id", { $unset: { client_id: "" } }, "incomplete", /missing client/],
];

Deno.test("archiveOrders() quarantines each malformed order with its reason and archives the rest in the same call", async () => {
  await using t = await testDatabase("archiver_malformed");
  const seeded = await seedOrders(t.db, {
    complete: MALFORMED.length + 5,
    incomplete: 0,
    notDelivered: 0,
  });
  const orders = t.db.collection("Commande");
  // A legacy source without the unique index: several orders may lack a number.
  await orders.dropIndexes();
  const broken = new Map<string, (typeof MALFORMED)[number]>();
  for (const [i, row] of MALFORMED.entries()) {
    const number = seeded.complete[i]!;
    const id = (seeded.orders.get(number) as Document)._id as ObjectId;
    await orders.updateOne({ _id: id }, row[1]);
    broken.set(String(id), row);
  }
  const refs = await orders.find({}, { projection: { numero_commande: 1 } }).toArray();
  const outcome = await archiveOrders(refs, {
    db: t.db,
    names,
    log,
    archivedBy: "batch",
    deliveredStatus: "livrée",
  });

  assert.equal(outcome.archived, 5, "the good orders are archived in the same call");
  assert.equal(outcome.invalid, MALFORMED.filter((r) => r[2] === "invalid").length);
  assert.equal(outcome.incomplete, 1);
  assert.equal(outcome.errors, 0);
  const archived = await t.db.collection("Historique").find().toArray();
  assert.equal(archived.length, 5);
  assert.ok(archived.every((d) => typeof d.numero_commande === "string" && d.numero_commande));
  assert.ok(archived.every((d) => !("invalid" in d)), "the archive schema has no invalid field");
  const quarantined = await t.db.collection("archiver_quarantine").find().toArray();
  assert.equal(quarantined.length, MALFORMED.length);
  for (const q of quarantined) {
    const [name, , reason, detail] = broken.get(String(q._id))!;
    assert.equal(q.reason, reason, name);
    assert.match(q.detail, detail, name);
    assert.equal(q.attempts, 1);
  }
});

Deno.test("archiveOrders() isolates an order the server refuses and archives the others", async () => {
  await using t = await testDatabase("archiver_refused");
  const seeded = await seedOrders(t.db, { complete: 9, incomplete: 0, notDelivered: 0 });
  // The server refuses the enrichment of one order: its archive document would pass MongoDB's
  // 16 MB limit (a 9 MB address beside its client's 8 MB one), so the aggregation fails with
  // BSONObjectTooLarge. Every other order shares that client but stays under the limit.
  const victim = seeded.complete[4]!;
  const order = seeded.orders.get(victim) as Document;
  await t.db.collection("Client").updateOne({ _id: order.client_id }, {
    $set: { adresse: "y".repeat(8 * 1024 * 1024) },
  });
  await t.db.collection("Commande").updateOne({ numero_commande: victim }, {
    $set: { adresse_livraison: "x".repeat(9 * 1024 * 1024) },
  });
  const refs = await t.db.collection("Commande").find({}, { projection: { numero_commande: 1 } })
    .toArray();
  const outcome = await archiveOrders(refs, {
    db: t.db,
    names,
    log,
    archivedBy: "batch",
  });
  assert.equal(outcome.archived, 8);
  assert.equal(outcome.errors, 1);
  const [q] = await t.db.collection("archiver_quarantine").find().toArray();
  assert.equal(q?.numero_commande, victim);
  assert.equal(q?.reason, "error");
});

Deno.test("archiveOrders() releases an order from the quarantine once it is archived, and counts it recovered", async () => {
  await using t = await testDatabase("archiver_recover");
  const seeded = await seedOrders(t.db, { complete: 3, incomplete: 0, notDelivered: 0 });
  const number = seeded.complete[0]!;
  const order = seeded.orders.get(number) as Document;
  const client = await t.db.collection("Client").findOneAndDelete({ _id: order.client_id });
  const quarantine = new Quarantine(t.db.collection("archiver_quarantine"), {
    retryIntervalMs: 1_000,
  });
  const options = { db: t.db, names, log, archivedBy: "watch" as const, quarantine };
  const refs = [{ _id: order._id, numero_commande: number }];
  const first = await archiveOrders(refs, options);
  assert.deepEqual([first.archived, first.incomplete, first.recovered], [0, 1, 0]);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 1);

  await t.db.collection("Client").insertOne(client!);
  const second = await archiveOrders(refs, options);
  assert.deepEqual([second.archived, second.incomplete, second.recovered], [1, 0, 1]);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
  assert.equal(await t.db.collection("Historique").countDocuments({ numero_commande: number }), 1);
});

Deno.test("archiveOrders() takes an order that is no longer delivered out of the quarantine", async () => {
  await using t = await testDatabase("archiver_undelivered");
  const seeded = await seedOrders(t.db, { complete: 1, incomplete: 1, notDelivered: 0 });
  const number = Object.keys(seeded.incomplete)[0]!;
  const order = seeded.orders.get(number) as Document;
  const options = { db: t.db, names, log, archivedBy: "batch" as const, deliveredStatus: "livrée" };
  await archiveOrders([{ _id: order._id, numero_commande: number }], options);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 1);
  await t.db.collection("Commande").updateOne({ _id: order._id }, { $set: { status: "annulée" } });
  const outcome = await archiveOrders([{ _id: order._id, numero_commande: number }], options);
  assert.equal(outcome.incomplete, 0);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
  assert.equal(await t.db.collection("Historique").countDocuments(), 0);
});

Deno.test("a dry run writes neither the archive nor the quarantine", async () => {
  await using t = await testDatabase("archiver_dry");
  await seedOrders(t.db, { complete: 2, incomplete: 2, notDelivered: 0 });
  const refs = await t.db.collection("Commande").find({}, { projection: { numero_commande: 1 } })
    .toArray();
  const outcome = await archiveOrders(refs, {
    db: t.db,
    names,
    log,
    archivedBy: "batch",
    dryRun: true,
  });
  assert.deepEqual([outcome.archived, outcome.incomplete], [2, 2]);
  assert.equal(await t.db.collection("Historique").countDocuments(), 0);
  assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
});

/** A logger that keeps its lines, for what a run wrote. */
function capturingLog() {
  const lines: Array<[string, string]> = [];
  const keep = (level: string) => (message: string) => void lines.push([level, message]);
  const logger = {
    ...log,
    debug: keep("DEBUG"),
    info: keep("INFO"),
    warn: keep("WARN"),
    error: keep("ERROR"),
  } as unknown as typeof log;
  return { logger, lines, about: (number: string) => lines.filter(([, m]) => m.includes(number)) };
}

for (const path of ["server", "client"] as const) {
  Deno.test(`archiveOrders() (${path} path) counts and logs a quarantined order once when it enters and once when it leaves, never at a retry`, async () => {
    await using t = await testDatabase(`archiver_first_seen_${path}`);
    const seeded = await seedOrders(t.db, { complete: 3, incomplete: 0, notDelivered: 0 });
    const [waiting, broken, fine] = seeded.complete as [string, string, string];
    const waitingOrder = seeded.orders.get(waiting) as Document;
    const client = await t.db.collection("Client").findOneAndDelete({
      _id: waitingOrder.client_id,
    });
    // Clients repeat every third order: only the waiting order lacks its client now.
    await t.db.collection("Commande").updateOne({ numero_commande: broken }, {
      $unset: { date_livraison: "" },
    });
    const quarantine = new Quarantine(t.db.collection("archiver_quarantine"), {
      retryIntervalMs: 1_000,
    });
    const refs = [waiting, broken, fine].map((number) => ({
      _id: (seeded.orders.get(number) as Document)._id as ObjectId,
      numero_commande: number,
    }));
    const { logger, lines, about } = capturingLog();
    const options = {
      db: t.db,
      names,
      log: logger,
      archivedBy: "watch" as const,
      quarantine,
      path,
    };

    const first = await archiveOrders(refs, options);
    assert.deepEqual([first.archived, first.incomplete, first.invalid], [1, 1, 1]);
    assert.deepEqual(first.stillQuarantined, { incomplete: 0, invalid: 0, conflict: 0, error: 0 });
    assert.deepEqual(about(waiting).map(([level]) => level), ["WARN"]);
    assert.deepEqual(about(broken).map(([level]) => level), ["ERROR"]);

    // Retried ten times (a watcher's ten minutes): counted apart, never logged.
    const logged = lines.length;
    for (let retry = 0; retry < 10; retry++) {
      const again = await archiveOrders(refs.slice(0, 2), options);
      assert.deepEqual([again.incomplete, again.invalid, again.archived], [0, 0, 0]);
      assert.deepEqual(again.stillQuarantined, {
        incomplete: 1,
        invalid: 1,
        conflict: 0,
        error: 0,
      });
    }
    assert.deepEqual(lines.slice(logged), [], "no line at a retry");

    // A dry run reads the quarantine: what it holds is not new either.
    const dry = await archiveOrders(refs.slice(0, 2), { ...options, dryRun: true });
    assert.deepEqual([dry.incomplete, dry.invalid], [0, 0]);
    assert.deepEqual(dry.stillQuarantined, { incomplete: 1, invalid: 1, conflict: 0, error: 0 });
    assert.deepEqual(lines.slice(logged), []);

    await t.db.collection("Client").insertOne(client!);
    const recovered = await archiveOrders(refs.slice(0, 2), options);
    assert.deepEqual([recovered.archived, recovered.recovered], [1, 1]);
    assert.deepEqual(lines.slice(logged), [[
      "INFO",
      `✅ Order ${waiting} left the quarantine: archived`,
    ]]);
    assert.deepEqual(
      (await t.db.collection("archiver_quarantine").find().toArray()).map((q) => q.numero_commande),
      [broken],
    );

    // No longer delivered: it leaves, and says so once.
    await t.db.collection("Commande").updateOne({ numero_commande: broken }, {
      $set: { status: "annulée" },
    });
    await archiveOrders(refs.slice(1, 2), { ...options, deliveredStatus: "livrée" });
    assert.deepEqual(lines.slice(logged + 1), [[
      "INFO",
      `✅ Order ${broken} left the quarantine: already archived or no longer delivered`,
    ]]);
    assert.equal(await t.db.collection("archiver_quarantine").countDocuments(), 0);
  });
}
