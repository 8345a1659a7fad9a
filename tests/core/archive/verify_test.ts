import assert from "node:assert/strict";
import { type Document, MongoClient, ObjectId } from "mongodb";
import { getLogger } from "@logtape/logtape";
import type { OrderRef } from "../../../core/archive/archiver.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import {
  addCounts,
  deliveryDay,
  emptyCounts,
  isOrphan,
  MISSING_SAMPLE_SIZE,
  orderFate,
  ORPHANS_SAMPLE_SIZE,
  UNKNOWN_DAY,
  verifyArchive,
  VerifyTally,
} from "../../../core/archive/verify.ts";
import { testDatabase } from "../../support/test_db.ts";

const log = getLogger(["archiver", "test"]);

Deno.test("deliveryDay() is the local calendar day of a date, else unknown", () => {
  const cases: Array<[unknown, string]> = [
    [new Date(2025, 9, 16, 0, 0, 0), "2025-10-16"],
    [new Date(2025, 9, 16, 23, 59, 59, 999), "2025-10-16"],
    [new Date(2025, 0, 1, 12), "2025-01-01"],
    [new Date(2024, 1, 29, 8), "2024-02-29"],
    [undefined, UNKNOWN_DAY],
    [null, UNKNOWN_DAY],
    ["2025-10-16", UNKNOWN_DAY],
    [1760601600000, UNKNOWN_DAY],
    [new Date(Number.NaN), UNKNOWN_DAY],
  ];
  for (const [value, day] of cases) assert.equal(deliveryDay(value), day, String(value));
});

Deno.test("orderFate() puts the archive before the quarantine, and an unknown reason under error", () => {
  const cases: Array<[boolean, unknown, string]> = [
    [true, undefined, "archived"],
    [true, "incomplete", "archived"],
    [false, undefined, "missing"],
    [false, "incomplete", "incomplete"],
    [false, "invalid", "invalid"],
    [false, "error", "error"],
    [false, "something new", "error"],
    [false, null, "error"],
  ];
  for (const [archived, reason, fate] of cases) {
    assert.equal(orderFate(archived, reason), fate, `${archived} ${reason}`);
  }
});

Deno.test("isOrphan() is true when the order is gone or no longer delivered", () => {
  assert.equal(isOrphan("livrée", "livrée"), false);
  assert.equal(isOrphan(undefined, "livrée"), true);
  assert.equal(isOrphan("annulée", "livrée"), true);
  assert.equal(isOrphan("delivered", "delivered"), false);
});

Deno.test("VerifyTally sorts days oldest first with unknown last, sums totals and caps the samples", () => {
  const tally = new VerifyTally();
  tally.count("2025-10-16", "archived", "CMD-3");
  tally.count(UNKNOWN_DAY, "invalid", "CMD-4");
  tally.count("2025-10-14", "incomplete", "CMD-1");
  tally.count("2025-10-14", "archived", "CMD-2");
  for (let i = 0; i < MISSING_SAMPLE_SIZE + 5; i++) tally.count("2025-10-15", "missing", `M-${i}`);
  tally.count("2025-10-15", "error", "CMD-5");
  for (let i = 0; i < ORPHANS_SAMPLE_SIZE + 3; i++) tally.orphan(`O-${i}`);
  const since = new Date(2025, 9, 14);
  const report = tally.report(since);
  assert.deepEqual(report.days.map((d) => d.day), [
    "2025-10-14",
    "2025-10-15",
    "2025-10-16",
    UNKNOWN_DAY,
  ]);
  assert.deepEqual(report.days[0], {
    day: "2025-10-14",
    delivered: 2,
    archived: 1,
    quarantined: { incomplete: 1, invalid: 0, error: 0 },
    missing: 0,
  });
  assert.deepEqual(report.days[1], {
    day: "2025-10-15",
    delivered: MISSING_SAMPLE_SIZE + 6,
    archived: 0,
    quarantined: { incomplete: 0, invalid: 0, error: 1 },
    missing: MISSING_SAMPLE_SIZE + 5,
  });
  assert.deepEqual(report.totals, {
    delivered: MISSING_SAMPLE_SIZE + 10,
    archived: 2,
    quarantined: { incomplete: 1, invalid: 1, error: 1 },
    missing: MISSING_SAMPLE_SIZE + 5,
  });
  assert.deepEqual(
    report.missing_sample,
    Array.from({ length: MISSING_SAMPLE_SIZE }, (_, i) => `M-${i}`),
  );
  assert.equal(report.orphans, ORPHANS_SAMPLE_SIZE + 3);
  assert.equal(report.orphans_sample.length, ORPHANS_SAMPLE_SIZE);
  assert.equal(report.since, since.toISOString());
  assert.equal(new VerifyTally().report().since, undefined);
});

Deno.test("addCounts() adds every figure, the quarantine by reason", () => {
  const a = { ...emptyCounts(), delivered: 3, archived: 1, missing: 1 };
  a.quarantined.error = 1;
  const b = { ...emptyCounts(), delivered: 2, archived: 1 };
  b.quarantined.incomplete = 1;
  assert.deepEqual(addCounts(a, b), {
    delivered: 5,
    archived: 2,
    quarantined: { incomplete: 1, invalid: 0, error: 1 },
    missing: 1,
  });
});

Deno.test("verifyArchive() counts per day with two indexed $in queries per chunk, and hands each chunk's missing orders over", async (t) => {
  await using tdb = await testDatabase("verify_core");
  const day = (date: number, hour: number) => new Date(2025, 9, date, hour);
  const order = (n: number, status: string, date?: Date) => {
    const document: Document = {
      _id: new ObjectId(),
      numero_commande: `CMD-${String(n).padStart(6, "0")}`,
      status,
    };
    if (date) document.date_livraison = date;
    return document;
  };
  const orders = [
    order(1, "livrée", day(14, 9)), // archived
    order(2, "livrée", day(14, 23)), // quarantined incomplete
    order(3, "livrée", day(15, 0)), // missing
    order(4, "livrée", day(15, 12)), // archived, also (stale) in the quarantine
    order(5, "livrée"), // no date: missing
    order(6, "en_livraison", day(15, 13)), // not delivered: not counted
    order(7, "annulée", day(14, 10)), // archived once, then cancelled: orphan by order_id
    order(8, "livrée", day(15, 14)), // archived without order_id: not an orphan
  ];
  orders.push({ ...order(9, "livrée", day(16, 8)), numero_commande: 42 }); // no usable number
  await tdb.db.collection(names.orders).insertMany(orders);
  await tdb.db.collection(names.orders).createIndex({ numero_commande: 1 }, { unique: true });
  const archiveOf = (o: Document, withId = true) => ({
    numero_commande: o.numero_commande,
    date_livraison: o.date_livraison,
    ...(withId ? { order_id: o._id } : {}),
  });
  await tdb.db.collection(names.archive).insertMany([
    archiveOf(orders[0]!),
    archiveOf(orders[3]!),
    archiveOf(orders[6]!),
    archiveOf(orders[7]!, false),
    { numero_commande: "CMD-000099", date_livraison: day(14, 8) }, // no order_id, no order
    { numero_commande: "CMD-000098", order_id: new ObjectId(), date_livraison: day(16, 9) },
  ]);
  await tdb.db.collection(names.quarantine).insertMany([
    { _id: orders[1]!._id, numero_commande: orders[1]!.numero_commande, reason: "incomplete" },
    { _id: orders[3]!._id, numero_commande: orders[3]!.numero_commande, reason: "error" },
  ]);

  await t.step("figures per day and orphans", async () => {
    const handed: OrderRef[][] = [];
    const client = new MongoClient(tdb.uri, { monitorCommands: true });
    const queries: string[] = [];
    client.on("commandStarted", (event) => {
      if (event.commandName === "find") queries.push(String(event.command.find));
    });
    try {
      const report = await verifyArchive(client.db(tdb.dbName), names, {
        deliveredStatus: "livrée",
        chunkSize: 2,
        log,
        onMissing: (refs) => {
          handed.push(refs);
          return Promise.resolve();
        },
      });
      const q = (incomplete: number, invalid: number, error: number) => ({
        incomplete,
        invalid,
        error,
      });
      assert.deepEqual(report.days, [
        { day: "2025-10-14", delivered: 2, archived: 1, quarantined: q(1, 0, 0), missing: 0 },
        { day: "2025-10-15", delivered: 3, archived: 2, quarantined: q(0, 0, 0), missing: 1 },
        { day: "2025-10-16", delivered: 1, archived: 0, quarantined: q(0, 0, 0), missing: 1 },
        { day: UNKNOWN_DAY, delivered: 1, archived: 0, quarantined: q(0, 0, 0), missing: 1 },
      ]);
      assert.deepEqual(report.totals, {
        delivered: 7,
        archived: 3,
        quarantined: q(1, 0, 0),
        missing: 3,
      });
      assert.deepEqual(
        [...report.missing_sample].sort(),
        ["CMD-000003", "CMD-000005", `(no number, _id ${orders[8]!._id})`].sort(),
      );
      assert.equal(report.orphans, 3);
      assert.deepEqual([...report.orphans_sample].sort(), [
        "CMD-000007",
        "CMD-000098",
        "CMD-000099",
      ]);
      assert.equal(report.since, undefined);
      // Each chunk's missing orders, as read: ids and numbers.
      assert.ok(handed.every((refs) => refs.length <= 2));
      assert.deepEqual(
        handed.flat().map((ref) => String(ref._id)).sort(),
        [orders[2]!, orders[4]!, orders[8]!].map((o) => String(o._id)).sort(),
      );
      // The cursor over the 7 delivered orders, in 4 chunks of 2: one quarantine query each,
      // one archive query each but the last (no usable number). Then the cursor over the 6
      // archive documents, in 3 chunks: one order query by _id, plus one by number for the
      // chunks holding a document without order_id.
      const count = (name: string) => queries.filter((q) => q === name).length;
      assert.deepEqual(
        { quarantine: count(names.quarantine), archive: count(names.archive) },
        { quarantine: 4, archive: 1 + 3 },
      );
      assert.equal(count(names.orders), 1 + 1 + 2 + 2);
    } finally {
      await client.close();
    }
  });

  await t.step("since leaves out earlier days and orders without a date", async () => {
    const since = new Date(2025, 9, 15);
    const report = await verifyArchive(tdb.db, names, { deliveredStatus: "livrée", since, log });
    assert.deepEqual(report.days.map((d) => [d.day, d.delivered, d.missing]), [
      ["2025-10-15", 3, 1],
      ["2025-10-16", 1, 1],
    ]);
    assert.equal(report.since, since.toISOString());
    assert.deepEqual(report.orphans_sample, ["CMD-000098"], "archive documents delivered since");
  });
});
