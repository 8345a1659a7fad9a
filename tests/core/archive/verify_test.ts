import assert from "node:assert/strict";
import { BSON, type Db, type Document, MongoClient, ObjectId } from "mongodb";
import { getLogger } from "@logtape/logtape";
import type { OrderRef } from "../../../core/archive/archiver.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { describeOrderId, orderIdKey } from "../../../core/archive/order_id.ts";
import {
  addCounts,
  ANOMALY_SAMPLE_SIZE,
  archiveAnomaly,
  countDeliveredOrders,
  deliveryDay,
  emptyCounts,
  MISSING_SAMPLE_SIZE,
  orderFate,
  UNKNOWN_DAY,
  verifyArchive,
  VerifyTally,
} from "../../../core/archive/verify.ts";
import { testDatabase } from "../../support/test_db.ts";

const log = getLogger(["archiver", "test"]);

const q = (incomplete: number, invalid: number, conflict: number, error: number) => ({
  incomplete,
  invalid,
  conflict,
  error,
});

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

Deno.test("orderFate() puts the archive before the quarantine, the quarantine before a release, and an unknown reason under error", () => {
  const cases: Array<[boolean, unknown, boolean, string]> = [
    [true, undefined, false, "archived"],
    [true, "incomplete", false, "archived"],
    [true, undefined, true, "archived"],
    [false, undefined, false, "missing"],
    [false, undefined, true, "released"],
    [false, "incomplete", false, "incomplete"],
    [false, "invalid", false, "invalid"],
    [false, "conflict", false, "conflict"],
    [false, "conflict", true, "conflict"],
    [false, "error", false, "error"],
    [false, "something new", false, "error"],
    [false, null, false, "error"],
  ];
  for (const [archived, reason, released, fate] of cases) {
    assert.equal(orderFate(archived, reason, released), fate, `${archived} ${reason} ${released}`);
  }
});

Deno.test("archiveAnomaly() names what is wrong with an archive document, or nothing", () => {
  const cases: Array<[string, unknown, boolean, Document | undefined, string | undefined]> = [
    ["sound", "CMD-1", true, { status: "livrée", numero_commande: "CMD-1" }, undefined],
    ["order gone", "CMD-1", true, undefined, "order_gone"],
    [
      "cancelled since",
      "CMD-1",
      true,
      { status: "annulée", numero_commande: "CMD-1" },
      "not_delivered",
    ],
    [
      "renumbered",
      "CMD-1",
      true,
      { status: "livrée", numero_commande: "CMD-9" },
      "number_mismatch",
    ],
    [
      "renumbered and cancelled",
      "CMD-1",
      true,
      { status: "annulée", numero_commande: "CMD-9" },
      "not_delivered",
    ],
    ["older document matched by number", "CMD-1", false, {
      status: "livrée",
      numero_commande: "CMD-1",
    }, undefined],
    ["older document, order gone", "CMD-1", false, undefined, "order_gone"],
  ];
  for (const [name, number, hasOrderId, order, anomaly] of cases) {
    assert.equal(
      archiveAnomaly({ numero_commande: number, hasOrderId }, order, "livrée"),
      anomaly,
      name,
    );
  }
});

Deno.test("VerifyTally sorts days oldest first with unknown last, sums totals and caps the samples", () => {
  const tally = new VerifyTally();
  tally.count("2025-10-16", "archived", "CMD-3");
  tally.count(UNKNOWN_DAY, "invalid", "CMD-4");
  tally.count("2025-10-14", "incomplete", "CMD-1");
  tally.count("2025-10-14", "archived", "CMD-2");
  tally.count("2025-10-14", "released", "CMD-6");
  tally.count("2025-10-16", "conflict", "CMD-7");
  for (let i = 0; i < MISSING_SAMPLE_SIZE + 5; i++) tally.count("2025-10-15", "missing", `M-${i}`);
  tally.count("2025-10-15", "error", "CMD-5");
  for (let i = 0; i < ANOMALY_SAMPLE_SIZE + 3; i++) tally.anomaly("order_gone", `O-${i}`);
  tally.anomaly("number_mismatch", "CMD-1 → CMD-2");
  tally.archivedByNumber();
  const since = new Date(2025, 9, 14);
  const report = tally.report({ since });
  assert.deepEqual(report.days.map((d) => d.day), [
    "2025-10-14",
    "2025-10-15",
    "2025-10-16",
    UNKNOWN_DAY,
  ]);
  assert.deepEqual(report.days[0], {
    day: "2025-10-14",
    delivered: 3,
    archived: 1,
    quarantined: q(1, 0, 0, 0),
    released: 1,
    missing: 0,
    purged: 0,
  });
  assert.deepEqual(report.days[1], {
    day: "2025-10-15",
    delivered: MISSING_SAMPLE_SIZE + 6,
    archived: 0,
    quarantined: q(0, 0, 0, 1),
    released: 0,
    missing: MISSING_SAMPLE_SIZE + 5,
    purged: 0,
  });
  assert.deepEqual(report.totals, {
    delivered: MISSING_SAMPLE_SIZE + 12,
    archived: 2,
    quarantined: q(1, 1, 1, 1),
    released: 1,
    missing: MISSING_SAMPLE_SIZE + 5,
    purged: 0,
  });
  assert.deepEqual(
    report.missing_sample,
    Array.from({ length: MISSING_SAMPLE_SIZE }, (_, i) => `M-${i}`),
  );
  assert.equal(report.anomalies.order_gone.count, ANOMALY_SAMPLE_SIZE + 3);
  assert.equal(report.anomalies.order_gone.sample.length, ANOMALY_SAMPLE_SIZE);
  assert.deepEqual(report.anomalies.number_mismatch, { count: 1, sample: ["CMD-1 → CMD-2"] });
  assert.deepEqual(report.anomalies.not_delivered, { count: 0, sample: [] });
  assert.equal(report.archived_by_number, 1);
  assert.equal(report.since, since.toISOString());
  assert.equal(new VerifyTally().report().since, undefined);
});

Deno.test("addCounts() adds every figure, the quarantine by reason", () => {
  const a = { ...emptyCounts(), delivered: 4, archived: 1, missing: 1, released: 1 };
  a.quarantined.error = 1;
  const b = { ...emptyCounts(), delivered: 3, archived: 1, released: 1 };
  b.quarantined.incomplete = 1;
  b.quarantined.conflict = 1;
  assert.deepEqual(addCounts(a, b), {
    delivered: 7,
    archived: 2,
    quarantined: q(1, 0, 1, 1),
    released: 2,
    missing: 1,
    purged: 0,
  });
});

/** One delivered order of a given `_id`, numbered `CMD-<n>`. */
function delivered(_id: unknown, n: number, date = new Date(2025, 9, 14, 10)): Document {
  return {
    _id,
    numero_commande: `CMD-${String(n).padStart(6, "0")}`,
    status: "livrée",
    date_livraison: date,
  };
}

function archiveOf(order: Document): Document {
  return {
    order_id: order._id,
    numero_commande: order.numero_commande,
    date_livraison: order.date_livraison,
  };
}

async function prepare(db: Db): Promise<void> {
  await db.collection(names.orders).createIndex({ numero_commande: 1 }, { unique: true });
  await db.collection(names.archive).createIndex({ order_id: 1 }, { unique: true });
  await db.collection(names.archive).createIndex({ numero_commande: 1 }, { unique: true });
}

/**
 * Each `_id` shape, with a way to make the i-th distinct id of it. "1 beside '1'" is two shapes
 * whose ids share their text.
 */
const ID_SHAPES: Array<[string, (i: number) => unknown]> = [
  ["ObjectId", () => new ObjectId()],
  ["string", (i) => `order-${i}`],
  ["int", (i) => 100 + i],
  ["long", (i) => BSON.Long.fromNumber(2 ** 40 + i)],
  ["double", (i) => 0.5 + i],
  ["1 (int)", (i) => i + 1],
  ['"1" (string)', (i) => String(i + 1)],
  ["document", (i) => ({ shop: 7, n: i })],
  ["document, fields reversed", (i) => ({ n: i, shop: 7 })],
  ["UUID", () => new BSON.UUID()],
];

const FATES = ["archived", "incomplete", "conflict", "released", "missing"] as const;

Deno.test("verifyArchive() counts every _id shape once in its column, and hands each missing one over once", async () => {
  await using tdb = await testDatabase("verify_ids");
  await prepare(tdb.db);
  const orders: Array<{ shape: string; fate: string; order: Document }> = [];
  let n = 0;
  for (const [shape, make] of ID_SHAPES) {
    FATES.forEach((fate, i) => orders.push({ shape, fate, order: delivered(make(i), ++n) }));
  }
  await tdb.db.collection(names.orders).insertMany(orders.map((o) => o.order));
  const of = (fate: string) => orders.filter((o) => o.fate === fate).map((o) => o.order);
  await tdb.db.collection(names.archive).insertMany(of("archived").map(archiveOf));
  await tdb.db.collection(names.quarantine).insertMany([
    ...of("incomplete").map((o) => ({ _id: o._id, reason: "incomplete" })),
    ...of("conflict").map((o) => ({ _id: o._id, reason: "conflict", conflict_with: 1 })),
  ]);
  await tdb.db.collection(names.released).insertMany(
    of("released").map((o) => ({ _id: o._id, numero_commande: o.numero_commande })),
  );

  for (const chunkSize of [1, 3, 1000]) {
    const handed: OrderRef[] = [];
    const report = await verifyArchive(tdb.db, names, {
      deliveredStatus: "livrée",
      chunkSize,
      log,
      onMissing: (refs) => {
        handed.push(...refs);
        return Promise.resolve();
      },
    });
    const shapes = ID_SHAPES.length;
    assert.deepEqual(report.totals, {
      delivered: shapes * FATES.length,
      archived: shapes,
      quarantined: q(shapes, 0, shapes, 0),
      released: shapes,
      missing: shapes,
      purged: 0,
    }, `chunk ${chunkSize}`);
    assert.deepEqual(
      handed.map((ref) => orderIdKey(ref._id)).sort(),
      of("missing").map((o) => orderIdKey(o._id)).sort(),
      `chunk ${chunkSize}: each missing order handed over once`,
    );
    for (const anomaly of Object.values(report.anomalies)) assert.equal(anomaly.count, 0);
  }
});

Deno.test("verifyArchive() never counts a reused number as archived: the old documents are anomalies (order gone)", async (t) => {
  await using tdb = await testDatabase("verify_reused");
  await prepare(tdb.db);
  // The first life of the source, archived; then the source dropped and simulated again.
  const first = [1, 2, 3].map((n) => delivered(new ObjectId(), n));
  await tdb.db.collection(names.archive).insertMany(first.map(archiveOf));
  const second = [1, 2, 3, 4].map((n) => delivered(new ObjectId(), n));
  await tdb.db.collection(names.orders).insertMany(second);
  await tdb.db.collection(names.quarantine).insertOne({
    _id: second[0]!._id,
    numero_commande: "CMD-000001",
    reason: "conflict",
    conflict_with: first[0]!._id,
  });

  await t.step("the new orders are conflicts or missing, the old documents anomalies", async () => {
    const report = await verifyArchive(tdb.db, names, { deliveredStatus: "livrée", log });
    assert.deepEqual(report.totals, {
      delivered: 4,
      archived: 0,
      quarantined: q(0, 0, 1, 0),
      released: 0,
      missing: 3,
      purged: 0,
    });
    assert.deepEqual([...report.missing_sample].sort(), ["CMD-000002", "CMD-000003", "CMD-000004"]);
    assert.equal(report.archived_by_number, 0);
    assert.equal(report.anomalies.order_gone.count, 3);
    assert.deepEqual(
      [...report.anomalies.order_gone.sample].sort(),
      first.map((o) => `${o.numero_commande} (order ${describeOrderId(o._id)})`).sort(),
    );
  });

  await t.step("health's count agrees", async () => {
    const counted = await countDeliveredOrders(tdb.db, names, { deliveredStatus: "livrée" });
    assert.equal(counted.totals.missing, 3);
    assert.equal(counted.totals.archived, 0);
    assert.equal("anomalies" in counted, false);
  });
});

Deno.test("verifyArchive() counts an archive document without order_id by its number, and says so", async () => {
  await using tdb = await testDatabase("verify_legacy");
  await tdb.db.collection(names.orders).createIndex({ numero_commande: 1 }, { unique: true });
  const orders = [1, 2].map((n) => delivered(new ObjectId(), n));
  await tdb.db.collection(names.orders).insertMany(orders);
  await tdb.db.collection(names.archive).insertMany([
    { numero_commande: "CMD-000001", date_livraison: orders[0]!.date_livraison },
    { numero_commande: "CMD-000099", date_livraison: orders[0]!.date_livraison },
  ]);
  const report = await verifyArchive(tdb.db, names, { deliveredStatus: "livrée", log });
  assert.equal(report.totals.archived, 1);
  assert.equal(report.archived_by_number, 1);
  assert.equal(report.totals.missing, 1);
  assert.deepEqual(report.anomalies.order_gone, {
    count: 1,
    sample: ["CMD-000099 (no order_id)"],
  });
});

Deno.test("verifyArchive() keeps a renumbered archived order archived once and reports the mismatch", async () => {
  await using tdb = await testDatabase("verify_renumbered");
  await prepare(tdb.db);
  const order = delivered(new ObjectId(), 1);
  await tdb.db.collection(names.archive).insertOne(archiveOf(order));
  await tdb.db.collection(names.orders).insertOne({ ...order, numero_commande: "CMD-000101" });
  const report = await verifyArchive(tdb.db, names, { deliveredStatus: "livrée", log });
  assert.equal(report.totals.delivered, 1);
  assert.equal(report.totals.archived, 1);
  assert.equal(report.totals.missing, 0);
  assert.deepEqual(report.anomalies.number_mismatch, {
    count: 1,
    sample: [`CMD-000001 → CMD-000101 (order ${describeOrderId(order._id)})`],
  });
  assert.equal(report.anomalies.order_gone.count, 0);
  assert.equal(report.anomalies.duplicate_order_id.count, 0);
});

Deno.test("verifyArchive() reports several archive documents for one order once, even across chunks", async () => {
  await using tdb = await testDatabase("verify_duplicates");
  // An archive of an older version: unique by number only.
  await tdb.db.collection(names.archive).createIndex({ numero_commande: 1 }, { unique: true });
  const twice = delivered({ shop: 3, n: 12 }, 1);
  const thrice = delivered(7, 2);
  await tdb.db.collection(names.orders).insertMany([twice, thrice]);
  await tdb.db.collection(names.archive).insertMany([
    archiveOf(twice),
    { ...archiveOf(thrice), numero_commande: "CMD-000052" },
    { ...archiveOf(twice), numero_commande: "CMD-000051" },
    archiveOf(thrice),
    { ...archiveOf(thrice), numero_commande: "CMD-000053" },
  ]);
  for (const chunkSize of [1, 2, 1000]) {
    const report = await verifyArchive(tdb.db, names, {
      deliveredStatus: "livrée",
      chunkSize,
      log,
    });
    assert.equal(report.totals.archived, 2, `chunk ${chunkSize}`);
    assert.deepEqual(report.anomalies.duplicate_order_id.count, 2, `chunk ${chunkSize}`);
    assert.deepEqual([...report.anomalies.duplicate_order_id.sample].sort(), [
      "7: CMD-000002, CMD-000052, CMD-000053",
      "{ shop: 3, n: 12 }: CMD-000001, CMD-000051",
    ]);
    assert.equal(report.anomalies.number_mismatch.count, 3, "the extra documents' numbers");
  }
});

Deno.test("verifyArchive() counts per day, anomalies by order_id or number, with indexed $in queries per chunk", async (t) => {
  await using tdb = await testDatabase("verify_core");
  await prepare(tdb.db);
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
    order(7, "annulée", day(14, 10)), // archived once, then cancelled: not delivered
    order(8, "livrée", day(15, 14)), // released by the operator
  ];
  orders.push({ ...order(9, "livrée", day(16, 8)), numero_commande: 42 }); // no usable number
  await tdb.db.collection(names.orders).insertMany(orders);
  await tdb.db.collection(names.archive).insertMany([
    archiveOf(orders[0]!),
    archiveOf(orders[3]!),
    archiveOf(orders[6]!),
    { order_id: new ObjectId(), numero_commande: "CMD-000098", date_livraison: day(16, 9) },
  ]);
  await tdb.db.collection(names.quarantine).insertMany([
    { _id: orders[1]!._id, numero_commande: orders[1]!.numero_commande, reason: "incomplete" },
    { _id: orders[3]!._id, numero_commande: orders[3]!.numero_commande, reason: "error" },
  ]);
  await tdb.db.collection(names.released).insertOne({
    _id: orders[7]!._id,
    numero_commande: orders[7]!.numero_commande,
    reason: "invalid",
  });

  await t.step("figures per day and anomalies", async () => {
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
      const row = (day: string, d: number, a: number, i: number, r: number, m: number) => ({
        day,
        delivered: d,
        archived: a,
        quarantined: q(i, 0, 0, 0),
        released: r,
        missing: m,
        purged: 0,
      });
      assert.deepEqual(report.days, [
        row("2025-10-14", 2, 1, 1, 0, 0),
        row("2025-10-15", 3, 1, 0, 1, 1),
        row("2025-10-16", 1, 0, 0, 0, 1),
        row(UNKNOWN_DAY, 1, 0, 0, 0, 1),
      ]);
      assert.equal(report.totals.missing, 3);
      assert.deepEqual(
        [...report.missing_sample].sort(),
        ["CMD-000003", "CMD-000005", `(no number, _id ${describeOrderId(orders[8]!._id)})`]
          .sort(),
      );
      assert.deepEqual(report.anomalies.not_delivered.sample, [
        `CMD-000007 (order ${describeOrderId(orders[6]!._id)})`,
      ]);
      assert.equal(report.anomalies.order_gone.count, 1);
      assert.match(report.anomalies.order_gone.sample[0]!, /^CMD-000098 \(order ObjectId\("/);
      assert.equal(report.since, undefined);
      // Each chunk's missing orders, as read: ids and numbers.
      assert.ok(handed.every((refs) => refs.length <= 2));
      assert.deepEqual(
        handed.flat().map((ref) => orderIdKey(ref._id)).sort(),
        [orders[2]!, orders[4]!, orders[8]!].map((o) => orderIdKey(o._id)).sort(),
      );
      // 7 delivered orders in 4 chunks: one archive query by order_id each; for the chunks
      // with orders it does not find (all 4), one by number when some has a usable one (3: the
      // last chunk's only order has none), one on the quarantine each, and one on the released
      // collection for the 3 chunks still holding an unquarantined order (chunk 1's are
      // archived or quarantined). Then 4 archive documents in 2 chunks: one order query by _id
      // and one archive query by order_id (several documents for one order) each. And one
      // query for the archive documents of purged orders (none here, so no order query).
      const count = (name: string) => queries.filter((q) => q === name).length;
      assert.deepEqual({
        orders: count(names.orders),
        archive: count(names.archive),
        quarantine: count(names.quarantine),
        released: count(names.released),
      }, { orders: 1 + 2, archive: 4 + 3 + 1 + 2 + 1, quarantine: 4, released: 3 });
    } finally {
      await client.close();
    }
  });

  await t.step("since and until leave out other days and orders without a date", async () => {
    const since = new Date(2025, 9, 15);
    const report = await verifyArchive(tdb.db, names, { deliveredStatus: "livrée", since, log });
    assert.deepEqual(report.days.map((d) => [d.day, d.delivered, d.missing]), [
      ["2025-10-15", 3, 1],
      ["2025-10-16", 1, 1],
    ]);
    assert.equal(report.since, since.toISOString());
    assert.equal(report.anomalies.order_gone.count, 1, "archive documents delivered since");
    assert.equal(report.anomalies.not_delivered.count, 0);
    const until = new Date(2025, 9, 16);
    const counted = await countDeliveredOrders(tdb.db, names, {
      deliveredStatus: "livrée",
      until,
    });
    assert.deepEqual(counted.days.map((d) => [d.day, d.delivered, d.missing]), [
      ["2025-10-14", 2, 0],
      ["2025-10-15", 3, 1],
    ]);
    assert.equal(counted.until, until.toISOString());
  });
});
