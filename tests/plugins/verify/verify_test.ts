import assert from "node:assert/strict";
import { join } from "node:path";
import { BSON, type Db, type Document, ObjectId } from "mongodb";
import { describeOrderId } from "../../../core/archive/order_id.ts";
import { verify } from "../../../plugins/verify/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [verify()];

function runVerify(uri: string, db: string, dir: string, ...args: string[]) {
  return cli(["--uri", uri, "--db", db, "--log-dir", join(dir, "logs"), "verify", ...args], {
    plugins,
    cwd: dir,
  });
}

function parseJson(stdout: string) {
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, "--json prints one line");
  return JSON.parse(lines[0]!);
}

const q = (incomplete: number, invalid: number, error: number, conflict = 0) => ({
  incomplete,
  invalid,
  conflict,
  error,
});

const noAnomaly = { count: 0, sample: [] };

/**
 * Nine complete delivered orders over three days (local time), three per day, plus three not
 * delivered and one delivered without a date:
 * - 2025-10-14: CMD-000001 and 2 archived, CMD-000003 quarantined incomplete;
 * - 2025-10-15: CMD-000004 archived, CMD-000005 quarantined error, CMD-000006 missing;
 * - 2025-10-16: CMD-000007 archived, CMD-000008 and 9 missing (9's client does not exist);
 * - no date_livraison: CMD-000013, quarantined invalid.
 * The archive also holds CMD-999999, whose order does not exist: an anomaly (order gone).
 */
async function seedVerifyDataset(db: Db) {
  const seeded = await seedOrders(db, {
    complete: 9,
    incomplete: 0,
    notDelivered: 3,
    deliveredAt: (i) => new Date(2025, 9, 14 + Math.floor(i / 3), 10 + (i % 3)),
  });
  const number = (n: number) => `CMD-${String(n).padStart(6, "0")}`;
  const orderOf = (n: number) => seeded.orders.get(number(n))!;
  await db.collection("Commande").updateOne({ _id: orderOf(9)._id as ObjectId }, {
    $set: { client_id: new ObjectId() },
  });
  const undated = { _id: new ObjectId(), numero_commande: number(13), status: "livrée" };
  await db.collection("Commande").insertOne(undated);
  const archived = [1, 2, 4, 7].map((n) => ({
    numero_commande: number(n),
    order_id: orderOf(n)._id,
    date_livraison: orderOf(n).date_livraison,
    archived_by: "batch",
  }));
  const ghost = {
    numero_commande: "CMD-999999",
    order_id: new ObjectId(),
    date_livraison: new Date(2025, 9, 16, 9),
  };
  await db.collection("Historique").insertMany([...archived, ghost]);
  const quarantine = (id: ObjectId, n: number, reason: string) => ({
    _id: id,
    numero_commande: number(n),
    reason,
    detail: "test",
    first_seen: new Date(),
    last_attempt: new Date(),
    attempts: 1,
    next_attempt: new Date(),
  });
  await db.collection("archiver_quarantine").insertMany([
    quarantine(orderOf(3)._id as ObjectId, 3, "incomplete"),
    quarantine(orderOf(5)._id as ObjectId, 5, "error"),
    quarantine(undated._id, 13, "invalid"),
  ]);
  return { missing: [number(6), number(8), number(9)], goneId: ghost.order_id };
}

const EXPECTED_DAYS = [
  {
    day: "2025-10-14",
    delivered: 3,
    archived: 2,
    quarantined: q(1, 0, 0),
    released: 0,
    missing: 0,
    purged: 0,
  },
  {
    day: "2025-10-15",
    delivered: 3,
    archived: 1,
    quarantined: q(0, 0, 1),
    released: 0,
    missing: 1,
    purged: 0,
  },
  {
    day: "2025-10-16",
    delivered: 3,
    archived: 1,
    quarantined: q(0, 0, 0),
    released: 0,
    missing: 2,
    purged: 0,
  },
  {
    day: "unknown",
    delivered: 1,
    archived: 0,
    quarantined: q(0, 1, 0),
    released: 0,
    missing: 0,
    purged: 0,
  },
];

Deno.test("verify counts archived, quarantined and missing orders per day, and --repair archives the missing ones", async (t) => {
  await using tdb = await testDatabase("verify");
  await using dir = await tempDir();
  const { missing, goneId } = await seedVerifyDataset(tdb.db);
  const gone = { count: 1, sample: [`CMD-999999 (order ${describeOrderId(goneId)})`] };

  await t.step("--json gives exact figures per day, exit 1 for missing orders", async () => {
    const { code, stdout, stderr } = await runVerify(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(code, 1, stderr);
    const report = parseJson(stdout);
    assert.deepEqual(Object.keys(report), [
      "days",
      "totals",
      "missing_sample",
      "archived_by_number",
      "anomalies",
    ]);
    assert.deepEqual(report.days, EXPECTED_DAYS);
    assert.deepEqual(report.totals, {
      delivered: 10,
      archived: 4,
      quarantined: q(1, 1, 1),
      released: 0,
      missing: 3,
      purged: 0,
    });
    assert.deepEqual([...report.missing_sample].sort(), missing);
    assert.equal(report.archived_by_number, 0);
    assert.deepEqual(report.anomalies, {
      order_gone: gone,
      not_delivered: noAnomaly,
      number_mismatch: noAnomaly,
      duplicate_order_id: noAnomaly,
    });
    assert.match(
      stderr,
      /❌ 3 delivered orders neither archived, quarantined nor released: CMD-/,
    );
    assert.match(stderr, /⚠️ Archive anomaly order_gone: 1 \(CMD-999999 /);
    assert.match(
      stderr,
      /⚠️ The archive Historique has no index on order_id: each chunk reads it whole; run archiver batch or archiver verify --repair once to create it/,
    );
    const log = await Deno.readTextFile(join(dir.path, "logs", "verify.jsonl"));
    assert.match(
      log,
      /🔍 Verified 10 delivered orders: 4 archived, 3 quarantined, 0 released, 3 missing/,
    );
  });

  await t.step(
    "the table has one line per day, oldest first, the totals, the missing numbers",
    async () => {
      const { code, stdout } = await runVerify(tdb.uri, tdb.dbName, dir.path);
      assert.equal(code, 1);
      const lines = stdout.trimEnd().split("\n");
      assert.equal(lines[0], "Archive verification");
      const cells = (line: string) => line.trim().split(/\s+/);
      assert.deepEqual(cells(lines[1]!), [
        "day",
        "delivered",
        "archived",
        "incomplete",
        "invalid",
        "conflict",
        "error",
        "released",
        "missing",
      ]);
      assert.deepEqual(lines.slice(2, 7).map(cells), [
        ["2025-10-14", "3", "2", "1", "0", "0", "0", "0", "0"],
        ["2025-10-15", "3", "1", "0", "0", "0", "1", "0", "1"],
        ["2025-10-16", "3", "1", "0", "0", "0", "0", "0", "2"],
        ["unknown", "1", "0", "0", "1", "0", "0", "0", "0"],
        ["total", "10", "4", "1", "1", "0", "1", "0", "3"],
      ]);
      const at = lines.indexOf(
        "Missing: 3 delivered orders neither archived, quarantined nor released",
      );
      assert.ok(at > 0, stdout);
      assert.deepEqual(lines.slice(at + 1, at + 4).map((l) => l.trim()).sort(), missing);
      assert.ok(lines.includes("Archive anomalies (reported, never repaired):"), stdout);
      assert.ok(
        lines.includes(
          `  order gone:                      1 archive document (${gone.sample[0]})`,
        ),
        stdout,
      );
      assert.ok(lines.includes("  several documents for one order: 0 orders"), stdout);
    },
  );

  await t.step(
    "--since leaves out earlier days and orders without a date, and says so",
    async () => {
      const { code, stdout } = await runVerify(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "--since",
        "2025-10-15",
        "--json",
      );
      assert.equal(code, 1);
      const report = parseJson(stdout);
      assert.deepEqual(report.days, EXPECTED_DAYS.slice(1, 3));
      assert.deepEqual(report.totals, {
        delivered: 6,
        archived: 2,
        quarantined: q(0, 0, 1),
        released: 0,
        missing: 3,
        purged: 0,
      });
      assert.equal(report.since, new Date(2025, 9, 15).toISOString());
      const table = (await runVerify(tdb.uri, tdb.dbName, dir.path, "--since", "2025-10-15"))
        .stdout;
      assert.match(table, /Orders without a valid date_livraison are left out \(--since\)/);
      assert.doesNotMatch(table, /^\s+(2025-10-14|unknown)\s/m, "no row for those days");
    },
  );

  await t.step(
    "--repair archives the missing orders once, quarantines the incomplete one, then verifies again: exit 0",
    async () => {
      const { code, stdout, stderr } = await runVerify(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "--repair",
        "--chunk-size",
        "2",
        "--json",
      );
      assert.equal(code, 0, stderr);
      const report = parseJson(stdout);
      assert.deepEqual(report.repaired, { found: 3, archived: 2, quarantined: 1 });
      assert.deepEqual(report.days, [
        EXPECTED_DAYS[0],
        { ...EXPECTED_DAYS[1], archived: 2, missing: 0 },
        { ...EXPECTED_DAYS[2], archived: 2, quarantined: q(1, 0, 0), missing: 0 },
        EXPECTED_DAYS[3],
      ]);
      assert.deepEqual(report.totals, {
        delivered: 10,
        archived: 6,
        quarantined: q(2, 1, 1),
        released: 0,
        missing: 0,
        purged: 0,
      });
      assert.deepEqual(report.missing_sample, []);
      for (const number of ["CMD-000006", "CMD-000008"]) {
        assert.equal(
          await tdb.db.collection("Historique").countDocuments({ numero_commande: number }),
          1,
          number,
        );
      }
      const quarantined = await tdb.db.collection("archiver_quarantine").findOne({
        numero_commande: "CMD-000009",
      });
      assert.equal(quarantined?.reason, "incomplete");
      assert.equal(
        await tdb.db.collection("Historique").countDocuments({ numero_commande: "CMD-000009" }),
        0,
      );
      assert.deepEqual(report.anomalies.order_gone, gone, "an anomaly is reported, never repaired");
      assert.match(stderr, /🔧 Repaired 3 missing orders: 2 archived, 1 quarantined/);
    },
  );

  await t.step("afterwards a plain verify exits 0", async () => {
    const { code, stdout } = await runVerify(tdb.uri, tdb.dbName, dir.path);
    assert.equal(code, 0);
    assert.doesNotMatch(stdout, /^Missing/m);
    assert.match(stdout, /^\s+total\s+10\s+6\s+2\s+1\s+0\s+1\s+0\s+0$/m);
  });
});

/** Each `_id` shape, with a way to make its i-th distinct id ("1" beside 1: shapes 1 and 2). */
const ID_SHAPES: Array<[string, (i: number) => unknown]> = [
  ["ObjectId", () => new ObjectId()],
  ["int", (i) => i + 1],
  ['"1" (string)', (i) => String(i + 1)],
  ["long", (i) => BSON.Long.fromNumber(2 ** 40 + i)],
  ["double", (i) => 0.25 + i],
  ["document", (i) => ({ shop: 7, n: i })],
  ["document, fields reversed", (i) => ({ n: i, shop: 7 })],
  ["UUID", () => new BSON.UUID()],
];

/**
 * Orders of every `_id` shape, each in every column: archived, quarantined as a conflict,
 * released, missing (twice: one is archived by --repair, the other is incomplete).
 */
async function seedIdShapes(db: Db) {
  const seeded = await seedOrders(db, { complete: 1, incomplete: 0, notDelivered: 0 });
  const template = seeded.orders.get(seeded.complete[0]!)!;
  await db.collection("Commande").deleteMany({});
  await db.collection("Historique").createIndex({ order_id: 1 }, { unique: true });
  const fates = ["archived", "conflict", "released", "missing", "missing incomplete"];
  const rows: Array<{ shape: string; fate: string; order: Document }> = [];
  let n = 0;
  for (const [shape, make] of ID_SHAPES) {
    fates.forEach((fate, i) => {
      const order: Document = {
        ...template,
        _id: make(i),
        numero_commande: `CMD-${String(++n).padStart(6, "0")}`,
      };
      if (fate === "missing incomplete") order.client_id = new ObjectId();
      rows.push({ shape, fate, order });
    });
  }
  await db.collection("Commande").insertMany(rows.map((r) => r.order));
  const of = (fate: string) => rows.filter((r) => r.fate === fate).map((r) => r.order);
  await db.collection("Historique").insertMany(
    of("archived").map((o) => ({ order_id: o._id, numero_commande: o.numero_commande })),
  );
  await db.collection("archiver_quarantine").insertMany(
    of("conflict").map((o) => ({
      _id: o._id,
      numero_commande: o.numero_commande,
      reason: "conflict",
      detail: "test",
      first_seen: new Date(),
      last_attempt: new Date(),
      attempts: 1,
      next_attempt: new Date(Date.now() + 3_600_000),
    })),
  );
  await db.collection("archiver_released").insertMany(
    of("released").map((o) => ({
      _id: o._id,
      numero_commande: o.numero_commande,
      reason: "invalid",
      detail: "test",
      released_at: new Date(),
      released_by: "test",
    })),
  );
  return { rows, of };
}

Deno.test("verify and --repair count every _id shape once in its column and archive each missing one once", async (t) => {
  await using tdb = await testDatabase("verify_ids");
  await using dir = await tempDir();
  const { of } = await seedIdShapes(tdb.db);
  const shapes = ID_SHAPES.length;

  await t.step("verify: one per shape in each column, exit 1", async () => {
    const { code, stdout, stderr } = await runVerify(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(code, 1, stderr);
    const report = parseJson(stdout);
    assert.deepEqual(report.totals, {
      delivered: shapes * 5,
      archived: shapes,
      quarantined: q(0, 0, 0, shapes),
      released: shapes,
      missing: 2 * shapes,
      purged: 0,
    });
    assert.equal(report.missing_sample.length, 2 * shapes);
    assert.doesNotMatch(stderr, /no index on order_id/, "the index is there");
  });

  await t.step("--repair archives each missing one once, quarantines the incomplete", async () => {
    const { code, stdout, stderr } = await runVerify(
      tdb.uri,
      tdb.dbName,
      dir.path,
      "--repair",
      "--chunk-size",
      "3",
      "--json",
    );
    assert.equal(code, 0, stderr);
    const report = parseJson(stdout);
    assert.deepEqual(report.repaired, { found: 2 * shapes, archived: shapes, quarantined: shapes });
    assert.deepEqual(report.totals, {
      delivered: shapes * 5,
      archived: 2 * shapes,
      quarantined: q(shapes, 0, 0, shapes),
      released: shapes,
      missing: 0,
      purged: 0,
    });
    const archive = tdb.db.collection("Historique");
    for (const order of [...of("archived"), ...of("missing")]) {
      assert.equal(
        await archive.countDocuments({ order_id: order._id }),
        1,
        describeOrderId(order._id),
      );
    }
    for (const order of [...of("conflict"), ...of("released"), ...of("missing incomplete")]) {
      assert.equal(await archive.countDocuments({ order_id: order._id }), 0);
    }
    assert.equal(await archive.countDocuments(), 2 * shapes);
    for (const anomaly of Object.values(report.anomalies)) assert.deepEqual(anomaly, noAnomaly);
  });

  await t.step("a second --repair finds nothing to do", async () => {
    const { code, stdout } = await runVerify(tdb.uri, tdb.dbName, dir.path, "--repair", "--json");
    assert.equal(code, 0);
    assert.deepEqual(parseJson(stdout).repaired, { found: 0, archived: 0, quarantined: 0 });
    assert.equal(await tdb.db.collection("Historique").countDocuments(), 2 * shapes);
  });
});

Deno.test("verify after the source was simulated again with the archive kept: a reused number is never archived", async () => {
  await using tdb = await testDatabase("verify_reused");
  await using dir = await tempDir();
  // The first life of the source, archived, then dropped; numbers start again at CMD-000001.
  const first = await seedOrders(tdb.db, { complete: 3, incomplete: 0, notDelivered: 0 });
  await tdb.db.collection("Historique").createIndex({ order_id: 1 }, { unique: true });
  await tdb.db.collection("Historique").insertMany(first.complete.map((number) => ({
    order_id: first.orders.get(number)!._id,
    numero_commande: number,
  })));
  await tdb.db.collection("Commande").drop();
  for (const name of ["Client", "Livreur", "Restaurants", "Menu"]) {
    await tdb.db.collection(name).drop();
  }
  const second = await seedOrders(tdb.db, { complete: 3, incomplete: 0, notDelivered: 0 });
  const firstIds = first.complete.map((number) => first.orders.get(number)!._id);

  for (const args of [["--json"], ["--repair", "--json"]]) {
    const { stdout, stderr } = await runVerify(tdb.uri, tdb.dbName, dir.path, ...args);
    const report = parseJson(stdout);
    assert.equal(report.totals.delivered, 3, stderr);
    assert.equal(report.totals.archived, 0, `${args}: never archived because the number matches`);
    assert.equal(
      report.totals.missing + report.totals.quarantined.conflict,
      3,
      `${args}: missing, or quarantined as conflicts`,
    );
    assert.deepEqual(
      report.anomalies.order_gone.sample.sort(),
      first.complete.map((number, i) => `${number} (order ${describeOrderId(firstIds[i])})`)
        .sort(),
    );
    assert.equal(await tdb.db.collection("Historique").countDocuments(), 3, "the old documents");
    for (const number of second.complete) {
      assert.equal(
        await tdb.db.collection("Historique").countDocuments({
          order_id: second.orders.get(number)!._id,
        }),
        0,
      );
    }
  }
});

Deno.test("a bad --since exits 2 with one line before connecting, and writes nothing", async (t) => {
  for (const since of ["2025-13-01", "last week", ""]) {
    await t.step(JSON.stringify(since), async () => {
      await using dir = await tempDir();
      const { code, stdout, stderr } = await cli(
        [
          "--uri",
          "mongodb://127.0.0.1:9",
          "--log-dir",
          join(dir.path, "logs"),
          "verify",
          "--since",
          since,
        ],
        { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "200ms" } },
      );
      assert.equal(code, 2);
      assert.equal(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(
        lines[0]!,
        new RegExp(`^error: Invalid --since ${JSON.stringify(since)}: expected`),
      );
      assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing written");
    });
  }
});

Deno.test("verify ends with exit 3 when the server is unreachable", async () => {
  await using dir = await tempDir();
  const { code, stdout, stderr } = await cli(
    [
      "--uri",
      "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200",
      "--log-dir",
      dir.path,
      "verify",
    ],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "200ms" } },
  );
  assert.equal(code, 3);
  assert.equal(stdout, "");
  assert.match(stderr, /❌ Failed to connect to MongoDB at mongodb:\/\/127\.0\.0\.1:9/);
});

Deno.test("archiver verify --help", async () => {
  const { stdout } = await cli(["verify", "--help"], { plugins });
  await assertSnapshot("verify_help", stdout);
});
