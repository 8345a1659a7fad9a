import assert from "node:assert/strict";
import { join } from "node:path";
import { type Db, ObjectId } from "mongodb";
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

const q = (incomplete: number, invalid: number, error: number) => ({ incomplete, invalid, error });

/**
 * Nine complete delivered orders over three days (local time), three per day, plus three not
 * delivered and one delivered without a date:
 * - 2025-10-14: CMD-000001 and 2 archived, CMD-000003 quarantined incomplete;
 * - 2025-10-15: CMD-000004 archived, CMD-000005 quarantined error, CMD-000006 missing;
 * - 2025-10-16: CMD-000007 archived, CMD-000008 and 9 missing (9's client does not exist);
 * - no date_livraison: CMD-000013, quarantined invalid.
 * The archive also holds CMD-999999, whose order does not exist: an orphan.
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
  await db.collection("Historique").insertMany([
    ...archived,
    {
      numero_commande: "CMD-999999",
      order_id: new ObjectId(),
      date_livraison: new Date(2025, 9, 16, 9),
    },
  ]);
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
  return { missing: [number(6), number(8), number(9)] };
}

const EXPECTED_DAYS = [
  { day: "2025-10-14", delivered: 3, archived: 2, quarantined: q(1, 0, 0), missing: 0 },
  { day: "2025-10-15", delivered: 3, archived: 1, quarantined: q(0, 0, 1), missing: 1 },
  { day: "2025-10-16", delivered: 3, archived: 1, quarantined: q(0, 0, 0), missing: 2 },
  { day: "unknown", delivered: 1, archived: 0, quarantined: q(0, 1, 0), missing: 0 },
];

Deno.test("verify counts archived, quarantined and missing orders per day, and --repair archives the missing ones", async (t) => {
  await using tdb = await testDatabase("verify");
  await using dir = await tempDir();
  const { missing } = await seedVerifyDataset(tdb.db);

  await t.step("--json gives exact figures per day, exit 2 for missing orders", async () => {
    const { code, stdout, stderr } = await runVerify(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(code, 2, stderr);
    const report = parseJson(stdout);
    assert.deepEqual(Object.keys(report), [
      "days",
      "totals",
      "missing_sample",
      "orphans",
      "orphans_sample",
    ]);
    assert.deepEqual(report.days, EXPECTED_DAYS);
    assert.deepEqual(report.totals, {
      delivered: 10,
      archived: 4,
      quarantined: q(1, 1, 1),
      missing: 3,
    });
    assert.deepEqual([...report.missing_sample].sort(), missing);
    assert.equal(report.orphans, 1);
    assert.deepEqual(report.orphans_sample, ["CMD-999999"]);
    assert.match(stderr, /❌ 3 delivered orders neither archived nor quarantined: CMD-/);
    const log = await Deno.readTextFile(join(dir.path, "logs", "verify.jsonl"));
    assert.match(log, /🔍 Verified 10 delivered orders: 4 archived, 3 quarantined, 3 missing/);
  });

  await t.step(
    "the table has one line per day, oldest first, the totals, the missing numbers",
    async () => {
      const { code, stdout } = await runVerify(tdb.uri, tdb.dbName, dir.path);
      assert.equal(code, 2);
      const lines = stdout.trimEnd().split("\n");
      assert.equal(lines[0], "Archive verification");
      const cells = (line: string) => line.trim().split(/\s+/);
      assert.deepEqual(cells(lines[1]!), [
        "day",
        "delivered",
        "archived",
        "incomplete",
        "invalid",
        "error",
        "missing",
      ]);
      assert.deepEqual(lines.slice(2, 7).map(cells), [
        ["2025-10-14", "3", "2", "1", "0", "0", "0"],
        ["2025-10-15", "3", "1", "0", "0", "1", "1"],
        ["2025-10-16", "3", "1", "0", "0", "0", "2"],
        ["unknown", "1", "0", "0", "1", "0", "0"],
        ["total", "10", "4", "1", "1", "1", "3"],
      ]);
      const at = lines.indexOf("Missing: 3 delivered orders neither archived nor quarantined");
      assert.ok(at > 0, stdout);
      assert.deepEqual(lines.slice(at + 1, at + 4).map((l) => l.trim()).sort(), missing);
      assert.match(
        stdout,
        /^Orphans: 1 archive document without a delivered order \(CMD-999999\)$/m,
      );
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
      assert.equal(code, 2);
      const report = parseJson(stdout);
      assert.deepEqual(report.days, EXPECTED_DAYS.slice(1, 3));
      assert.deepEqual(report.totals, {
        delivered: 6,
        archived: 2,
        quarantined: q(0, 0, 1),
        missing: 3,
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
        missing: 0,
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
      assert.equal(report.orphans, 1, "an orphan is reported, never repaired");
      assert.match(stderr, /🔧 Repaired 3 missing orders: 2 archived, 1 quarantined/);
    },
  );

  await t.step("afterwards a plain verify exits 0", async () => {
    const { code, stdout } = await runVerify(tdb.uri, tdb.dbName, dir.path);
    assert.equal(code, 0);
    assert.doesNotMatch(stdout, /^Missing/m);
    assert.match(stdout, /^\s+total\s+10\s+6\s+2\s+1\s+1\s+0$/m);
  });
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
