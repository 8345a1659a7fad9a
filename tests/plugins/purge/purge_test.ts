import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { Db } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { purge } from "../../../plugins/purge/mod.ts";
import { archiveOrders, type OrderRef } from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const log = getLogger(["archiver", "test"]);
const DAY = 86_400_000;

function runPurge(uri: string, db: string, dir: string, ...args: string[]) {
  return cli(["--uri", uri, "--db", db, "--log-dir", join(dir, "logs"), "purge", ...args], {
    plugins: [purge()],
    cwd: dir,
  });
}

/** Seeds and archives `complete` orders, the i-th archived `100 - i` days ago. */
async function archived(db: Db, complete = 10): Promise<string[]> {
  const seeded = await seedOrders(db, { complete, incomplete: 0, notDelivered: 1 });
  await ensureArchiveIndex(db.collection("Historique"));
  const refs: OrderRef[] = await db.collection("Commande").find({ status: "livrée" }, {
    projection: { numero_commande: 1 },
  }).toArray();
  await archiveOrders(refs, { db, names, log, archivedBy: "batch", deliveredStatus: "livrée" });
  for (const [i, number] of seeded.complete.entries()) {
    await db.collection("Historique").updateOne({ numero_commande: number }, {
      $set: { archived_at: new Date(Date.now() - (100 - i) * DAY) },
    });
  }
  return seeded.complete;
}

async function sourceNumbers(db: Db): Promise<string[]> {
  return (await db.collection("Commande").find({ status: "livrée" }).toArray())
    .map((o) => o.numero_commande as string).sort();
}

Deno.test("purge --help shows every flag", async () => {
  for (
    const [name, args] of [
      ["purge_help", ["purge", "--help"]],
      ["purge_restore_help", ["purge", "restore", "--help"]],
    ] as const
  ) {
    const { code, stdout } = await cli([...args], { plugins: [purge()] });
    assert.equal(code, 0);
    await assertSnapshot(name, stdout);
  }
});

Deno.test("purge refuses bad input with one line and exit 2, before connecting", async (t) => {
  await using dir = await tempDir();
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], {}, /Nothing is purged until --older-than \(ARCHIVER_PURGE_AFTER\)/],
    [["--older-than", "soon"], {}, /Invalid --older-than "soon"/],
    [["--older-than", "30m"], {}, /Invalid --older-than "30m": expected a duration of at least/],
    [["--older-than", "30d", "--exclude", "{oops"], {}, /Invalid --exclude "\{oops"/],
    [["--older-than", "30d", "--exclude", "[1]"], {}, /Invalid --exclude "\[1\]"/],
    [["--older-than", "30d", "--window", "25:00-26:00"], {}, /Invalid --window/],
    [["--older-than", "30d", "--chunk", "0"], {}, /Invalid --chunk "0"/],
    [["--older-than", "30d", "--limit", "-1"], {}, /Invalid --limit "-1"/],
    [[], { ARCHIVER_PURGE_AFTER: "yesterday" }, /ARCHIVER_PURGE_AFTER/],
  ];
  for (const [args, env, line] of cases) {
    await t.step(`${args.join(" ")} ${JSON.stringify(env)}`, async () => {
      const result = await cli(
        ["--uri", "mongodb://127.0.0.1:1", "--log-dir", join(dir.path, "logs"), "purge", ...args],
        { plugins: [purge()], env, cwd: dir.path },
      );
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, line);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    });
  }
});

Deno.test("purge deletes the old archived orders, dry run first with the same figures; exit 1 for changed ones", async (t) => {
  await using tdb = await testDatabase("purge_cli");
  await using dir = await tempDir();
  const numbers = await archived(tdb.db);
  await tdb.db.collection("Commande").updateOne({ numero_commande: numbers[0] }, {
    $set: { adresse_livraison: "modifiée après archivage" },
  });
  await tdb.db.collection("Commande").updateOne({ numero_commande: numbers[1] }, {
    $set: { legal_hold: true },
  });
  await tdb.db.collection("Historique").updateOne({ numero_commande: numbers[2] }, {
    $set: { legal_hold: true },
  });
  const exclude = JSON.stringify({ numero_commande: numbers[3] });
  // Archived 100..91 days ago: --older-than 92.5 days (2220h) leaves the last two.
  const args = ["--older-than", "2220h", "--exclude", exclude, "--chunk", "3", "--json"];
  let dry: Record<string, unknown> = {};
  await t.step("dry run: figures, nothing deleted", async () => {
    const { code, stdout, stderr } = await runPurge(
      tdb.uri,
      tdb.dbName,
      dir.path,
      ...args,
      "--dry-run",
      "--max-rate",
      "2",
    );
    assert.equal(code, 1, stderr);
    dry = JSON.parse(stdout);
    assert.equal(dry.orders_purged, 4);
    assert.equal(dry.orders_changed, 2, "one address, one legal_hold added to the order");
    assert.equal(dry.orders_held, 1);
    assert.equal(dry.orders_excluded, 1);
    assert.equal(dry.seconds_at_rate, 2);
    assert.deepEqual(await sourceNumbers(tdb.db), [...numbers].sort());
  });
  await t.step("the real run does what the dry run said, records it, writes metrics", async () => {
    const metrics = join(dir.path, "purge.prom");
    const { code, stdout, stderr } = await runPurge(
      tdb.uri,
      tdb.dbName,
      dir.path,
      ...args,
      "--metrics-file",
      metrics,
    );
    assert.equal(code, 1, stderr);
    const real = JSON.parse(stdout);
    for (const key of ["orders_purged", "bytes_purged", "orders_changed", "months"]) {
      assert.deepEqual(real[key], dry[key], key);
    }
    assert.match(stderr, /⚠️ 2 orders changed since archived were left in the source/);
    assert.deepEqual(
      await sourceNumbers(tdb.db),
      [numbers[0], numbers[1], numbers[2], numbers[3], numbers[8], numbers[9]].sort(),
    );
    const text = await Deno.readTextFile(metrics);
    assert.match(text, /^archiver_purge_orders\{outcome="purged"\} 4$/m);
    assert.match(text, /^archiver_purge_orders\{outcome="changed"\} 2$/m);
    assert.match(text, /^archiver_purge_exit_code 1$/m);
    const history = await tdb.db.collection("archiver_runs").findOne({ mode: "purge" });
    assert.equal(history?.orders_purged, 4);
    assert.equal(history?.exit_code, 1);
  });
  await t.step(
    "--rearchive archives the changed order again, keeping the earlier version",
    async () => {
      const { code, stdout, stderr } = await runPurge(
        tdb.uri,
        tdb.dbName,
        dir.path,
        ...args,
        "--rearchive",
      );
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      assert.equal(report.orders_rearchived, 2);
      assert.equal(report.orders_purged, 1, "the address change; the legal hold one stays held");
      const redone = await tdb.db.collection("Historique").findOne({ numero_commande: numbers[0] });
      assert.equal(redone?.adresse_livraison, "modifiée après archivage");
      assert.equal(redone?.versions?.length, 1);
      assert.notEqual(redone?.versions?.[0]?.adresse_livraison, "modifiée après archivage");
      assert.ok(redone?.purged_at instanceof Date);
    },
  );
});

Deno.test("purge restore puts purged orders back byte for byte, and the record says so", async () => {
  await using tdb = await testDatabase("purge_restore");
  await using dir = await tempDir();
  const numbers = await archived(tdb.db, 4);
  const raw = async (number: string) =>
    Buffer.from(
      await tdb.db.collection("Commande").findOne({ numero_commande: number }, {
        raw: true,
      } as never) as unknown as Uint8Array,
    ).toString("hex");
  const before = await Promise.all(numbers.map(raw));
  const purged = await runPurge(tdb.uri, tdb.dbName, dir.path, "--older-than", "30d");
  assert.equal(purged.code, 0, purged.stderr);
  assert.deepEqual(await sourceNumbers(tdb.db), []);
  const one = await tdb.db.collection("Historique").findOne({ numero_commande: numbers[1] });
  const byId = await runPurge(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "restore",
    `ObjectId("${one!.order_id.toHexString()}")`,
    numbers[2]!,
  );
  assert.equal(byId.code, 0, byId.stderr);
  assert.deepEqual(await sourceNumbers(tdb.db), [numbers[1], numbers[2]].sort());
  const since = await runPurge(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "restore",
    "--purged-since",
    "yesterday",
    "--json",
  );
  assert.equal(since.code, 0, since.stderr);
  assert.equal(JSON.parse(since.stdout).restored, 2);
  assert.deepEqual(await Promise.all(numbers.map(raw)), before);
  const record = await tdb.db.collection("Historique").findOne({ numero_commande: numbers[1] });
  assert.ok(record?.restored_at instanceof Date);
  assert.equal(record?.purged_at, undefined);
  assert.equal(record?.purge_history?.length, 1);
  // A restored order stays: a later purge leaves it.
  const again = await runPurge(tdb.uri, tdb.dbName, dir.path, "--older-than", "30d", "--json");
  assert.equal(JSON.parse(again.stdout).orders_purged, 0);
  assert.equal((await sourceNumbers(tdb.db)).length, 4);
  const unknown = await runPurge(tdb.uri, tdb.dbName, dir.path, "restore", "CMD-999999");
  assert.equal(unknown.code, 1);
});
