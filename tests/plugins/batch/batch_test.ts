import assert from "node:assert/strict";
import { join } from "node:path";
import { EJSON } from "bson";
import type { Document } from "mongodb";
import { batch } from "../../../plugins/batch/mod.ts";
import { batchArgs, cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [batch()];

function runBatch(uri: string, db: string, dir: string, ...args: string[]) {
  return cli(batchArgs(uri, db, dir, ...args), { plugins, cwd: dir });
}

function parseReport(stdout: string) {
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, "--json prints one line");
  return JSON.parse(lines[0]!);
}

Deno.test("batch archives complete delivered orders, sets incomplete ones aside, and reports exact counts", async (t) => {
  await using tdb = await testDatabase("batch");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 10, incomplete: 2, notDelivered: 3 });

  await t.step("first run", async () => {
    const { code, stdout, stderr } = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    assert.deepEqual(
      { ...report, batch_duration_ms: 0 },
      {
        orders_delivered: 12,
        orders_examined: 12,
        orders_found: 12,
        orders_archived: 10,
        orders_duplicates: 0,
        orders_incomplete: 2,
        orders_errors: 0,
        orders_invalid: 0,
        orders_conflicts: 0,
        orders_recovered: 0,
        orders_still_quarantined: 0,
        orders_failed: 0,
        batch_duration_ms: 0,
        dry_run: false,
        finished: true,
        exit_code: 0,
      },
    );
    const quarantined = await tdb.db.collection("archiver_quarantine").find().toArray();
    assert.deepEqual(
      quarantined.map((q) => [q.numero_commande, q.reason, q.attempts]).sort(),
      Object.keys(seeded.incomplete).sort().map((number) => [number, "incomplete", 1]),
    );
    for (const q of quarantined) {
      assert.match(q.detail, /^missing /);
      assert.ok(q.first_seen instanceof Date && q.next_attempt > q.first_seen);
      assert.ok(q._id.equals((seeded.orders.get(q.numero_commande)! as Document)._id));
    }
    const archived = await tdb.db.collection("Historique").find().toArray();
    assert.deepEqual(archived.map((d) => d.numero_commande).sort(), [...seeded.complete].sort());
    for (const number of Object.keys(seeded.incomplete)) {
      assert.match(stderr, new RegExp(`⚠️ Order ${number} is incomplete: missing`));
    }
    const saved = JSON.parse(await Deno.readTextFile(join(dir.path, "last-batch.json")));
    assert.deepEqual(
      { ...saved, batch_duration_ms: 0, started_at: "", finished_at: "" },
      { ...report, batch_duration_ms: 0, started_at: "", finished_at: "" },
      "the saved report is what was printed",
    );
    const log = await Deno.readTextFile(join(dir.path, "logs", "batch.jsonl"));
    assert.match(log, /📦 12 delivered orders to examine, archived or not/);
    assert.match(log, /✅ Archived 10 orders \(12 not yet archived among 12 delivered orders\)/);
  });

  await t.step("archive documents match the source joined independently", async () => {
    for (const number of seeded.complete.slice(0, 4)) {
      const order = seeded.orders.get(number)! as Document;
      const doc = (await tdb.db.collection("Historique").findOne({ numero_commande: number }))!;
      const client = seeded.clients.get(order.client_id.toHexString())!;
      const courier = seeded.couriers.get(order.livreur_id.toHexString())!;
      const restaurant = seeded.restaurants.get(order.restaurant_id.toHexString())!;
      assert.ok(doc.order_id.equals(order._id));
      assert.equal(doc.client.nom, client.nom);
      assert.equal(doc.client.email, client.email);
      assert.equal(doc.livreur.vehicule, courier.vehicule);
      assert.equal(doc.restaurant.type_cuisine, restaurant.type_cuisine);
      let total = 0;
      (order.items as Document[]).forEach((item, i) => {
        const dish = seeded.menu.get(item.menu_id.toHexString())!;
        const line = doc.items[i];
        assert.equal(line.nom, dish.nom);
        assert.equal(line.categorie, dish.categorie);
        assert.equal(line.prix_unitaire, dish.prix);
        assert.equal(line.quantite, item.quantite);
        assert.equal(
          line.total_ligne,
          Math.round((dish.prix as number) * item.quantite * 100) / 100,
        );
        total += (dish.prix as number) * item.quantite;
      });
      assert.equal(doc.montant_total, Math.round(total * 100) / 100);
      const minutes = (order.date_livraison.getTime() - order.date_commande.getTime()) / 60_000;
      assert.equal(doc.duree_livraison_minutes, Math.round(minutes * 10) / 10);
      assert.equal(doc.complete, true);
      assert.deepEqual(doc.missing, []);
      assert.equal(doc.archived_by, "batch");
      assert.ok(doc.archived_at instanceof Date);
      assert.equal(doc.date_livraison.getTime(), order.date_livraison.getTime());
    }
  });

  await t.step(
    "a re-run that only retries quarantined orders: nothing new, no new problem",
    async () => {
      const { code, stdout, stderr } = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
      assert.equal(code, 0);
      const report = parseReport(stdout);
      assert.equal(report.orders_found, 2, "only the incomplete orders are still unarchived");
      assert.equal(report.orders_archived, 0);
      assert.equal(report.orders_incomplete, 0, "counted once, by the run that first saw them");
      assert.equal(report.orders_still_quarantined, 2);
      assert.equal(report.orders_failed, 0, "incomplete orders wait for their data");
      assert.deepEqual([report.finished, report.exit_code], [true, 0]);
      assert.doesNotMatch(stderr, /is incomplete/, "logged when they entered, not at each retry");
      assert.match(
        stderr,
        /✅ Archived 0 orders \(2 not yet archived among 12 delivered orders, 2 still quarantined from before\)/,
      );
      assert.equal(await tdb.db.collection("Historique").countDocuments(), 10);
      const attempts = await tdb.db.collection("archiver_quarantine").distinct("attempts");
      assert.deepEqual(attempts, [2], "each quarantined order was tried once more");
    },
  );

  await t.step(
    "--allow-incomplete archives them marked incomplete with the missing list",
    async () => {
      const { code, stdout, stderr } = await runBatch(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "--json",
        "--allow-incomplete",
      );
      assert.equal(code, 0);
      assert.equal(parseReport(stdout).orders_archived, 2);
      assert.equal(parseReport(stdout).orders_recovered, 2);
      for (const number of Object.keys(seeded.incomplete)) {
        const left = stderr.split("\n").filter((line) =>
          line.includes(`✅ Order ${number} left the quarantine: archived`)
        );
        assert.equal(left.length, 1, "an order leaving the quarantine says so once");
      }
      assert.equal(
        await tdb.db.collection("archiver_quarantine").countDocuments(),
        0,
        "archived orders leave the quarantine",
      );
      for (const [number, missing] of Object.entries(seeded.incomplete)) {
        const doc = (await tdb.db.collection("Historique").findOne({ numero_commande: number }))!;
        assert.equal(doc.complete, false);
        assert.deepEqual(doc.missing, missing);
      }
      const unique = await tdb.db.collection("Historique").distinct("numero_commande");
      assert.equal(unique.length, await tdb.db.collection("Historique").countDocuments());
    },
  );
});

Deno.test("--dry-run writes nothing: archive unchanged, no index, no report file", async () => {
  await using tdb = await testDatabase("batch_dry");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 5, incomplete: 1 });
  const { code, stdout, stderr } = await runBatch(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "--dry-run",
    "--export",
    "sample.json",
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /dry run: nothing was written/);
  assert.match(stdout, /orders_archived \(would be\)\s+5/);
  assert.match(
    stderr,
    /🔍 Dry run: would archive 5 orders \(6 not yet archived among 6 delivered orders\), nothing written/,
  );
  assert.doesNotMatch(stderr, /✅ Archived/);
  const json = await runBatch(tdb.uri, tdb.dbName, dir.path, "--dry-run", "--json");
  assert.deepEqual(
    [parseReport(json.stdout).dry_run, parseReport(json.stdout).orders_archived],
    [true, 5],
  );
  const collections = (await tdb.db.listCollections().toArray()).map((c) => c.name);
  assert.ok(!collections.includes("Historique"), "no archive collection, so no index either");
  await assert.rejects(Deno.stat(join(dir.path, "last-batch.json")), Deno.errors.NotFound);
  const sample = EJSON.parse(await Deno.readTextFile(join(dir.path, "sample.json"))) as Document[];
  assert.equal(sample.length, 5);
  assert.ok(sample[0]!.date_livraison instanceof Date, "dates survive Extended JSON");
  assert.equal(
    typeof sample[0]!.order_id.toHexString,
    "function",
    "ObjectIds survive Extended JSON",
  );
});

Deno.test("date bounds: from inclusive, to exclusive, a named day covering the whole day", async () => {
  await using tdb = await testDatabase("batch_dates");
  await using dir = await tempDir();
  const today = new Date();
  const midnight = new Date(today.getFullYear(), today.getMonth(), today.getDate());
  const at = [
    new Date(midnight.getTime() - 36 * 3_600_000), // the day before yesterday
    new Date(midnight.getTime() - 24 * 3_600_000), // yesterday 00:00, exactly
    new Date(midnight.getTime() - 1), // yesterday 23:59:59.999
    midnight, // today 00:00
  ];
  const seeded = await seedOrders(tdb.db, {
    complete: 4,
    incomplete: 0,
    notDelivered: 0,
    deliveredAt: (i) => at[i]!,
  });
  const { code, stdout } = await runBatch(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "--json",
    "--date-from",
    "yesterday",
    "--date-to",
    "yesterday",
  );
  assert.equal(code, 0);
  assert.equal(parseReport(stdout).orders_archived, 2);
  const archived = (await tdb.db.collection("Historique").find().toArray()).map((d) =>
    d.numero_commande
  ).sort();
  assert.deepEqual(archived, [seeded.complete[1], seeded.complete[2]]);

  const iso = await runBatch(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "--json",
    "--date-to",
    midnight.toISOString(),
  );
  assert.equal(
    parseReport(iso.stdout).orders_archived,
    1,
    "the day before yesterday; today 00:00 is excluded",
  );
});

Deno.test("--limit archives at most that many; a second run completes the rest exactly once", async () => {
  await using tdb = await testDatabase("batch_limit");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 25, incomplete: 0, notDelivered: 0 });
  const first = await runBatch(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "--json",
    "--limit",
    "7",
    "--batch-size",
    "3",
  );
  assert.equal(parseReport(first.stdout).orders_archived, 7);
  const second = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json", "--batch-size", "4");
  assert.equal(parseReport(second.stdout).orders_archived, 18);
  const numbers = await tdb.db.collection("Historique").distinct("numero_commande");
  assert.deepEqual(numbers.sort(), [...seeded.complete].sort());
  assert.equal(await tdb.db.collection("Historique").countDocuments(), 25);
});

Deno.test("failCommand faults on the aggregations are retried without losing orders", async () => {
  await using tdb = await testDatabase("batch_fault");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 12, incomplete: 0, notDelivered: 0 });
  const admin = tdb.client.db("admin");
  await admin.command({
    configureFailPoint: "failCommand",
    // The count of delivered orders is an aggregate the driver retries once by itself: five
    // failures take it to its third attempt. (The merge's own faults: server_archive_test.ts.)
    mode: { times: 5 },
    data: { failCommands: ["aggregate"], closeConnection: true },
  });
  try {
    const { code, stdout, stderr } = await runBatch(
      tdb.uri,
      tdb.dbName,
      dir.path,
      "--json",
      "--batch-size",
      "5",
    );
    assert.equal(code, 0, stderr);
    const report = parseReport(stdout);
    assert.equal(report.orders_errors, 0);
    assert.equal(report.orders_archived + report.orders_duplicates, 12);
    assert.match(stderr, /Counting delivered orders failed \(attempt 2\), retrying/);
  } finally {
    await admin.command({ configureFailPoint: "failCommand", mode: "off" });
  }
  const numbers = await tdb.db.collection("Historique").distinct("numero_commande");
  assert.deepEqual(numbers.sort(), [...seeded.complete].sort());
});

Deno.test("a document that cannot be written is counted and logged; the rest of its batch is archived", async () => {
  await using tdb = await testDatabase("batch_doc_error");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 9, incomplete: 0, notDelivered: 0 });
  // A constraint of the operators' own: one archived order per client email. Clients repeat
  // every third order, so six of the nine orders break it.
  await tdb.db.collection("Historique").createIndex({ "client.email": 1 }, { unique: true });
  const { code, stdout, stderr } = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
  assert.equal(code, 1, "partial failure");
  const report = parseReport(stdout);
  assert.equal(report.orders_archived, 3);
  assert.equal(report.orders_errors, 6);
  assert.equal(report.orders_duplicates, 0);
  assert.deepEqual([report.orders_failed, report.finished, report.exit_code], [6, true, 1]);
  const failed = seeded.complete.filter((_, i) => i >= 3);
  for (const number of failed) {
    assert.match(stderr, new RegExp(`❌ Error archiving order ${number}: .*code 11000`));
  }
  assert.match(
    stderr,
    /\[ERROR\] \[batch\] ❌ Archived 3 orders \(9 not yet archived among 9 delivered orders\); 6 orders could not be archived \(invalid 0, conflicts 0, errors 6\): see archiver quarantine list/,
  );
  assert.doesNotMatch(stderr, /✅ Archived/, "no success line for a run that exits 1");
  const quarantined = await tdb.db.collection("archiver_quarantine").find().toArray();
  assert.deepEqual(quarantined.map((q) => q.numero_commande).sort(), [...failed].sort());
  for (const q of quarantined) {
    assert.equal(q.reason, "error");
    assert.match(q.detail, /code 11000/);
  }
  const saved = JSON.parse(await Deno.readTextFile(join(dir.path, "last-batch.json")));
  assert.deepEqual([saved.orders_errors, saved.orders_failed, saved.exit_code], [6, 6, 1]);

  // Run again: the same six are still there. Not new errors, but still the operator's: exit 1,
  // and the saved figures say why.
  const again = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
  assert.equal(again.code, 1);
  const second = parseReport(again.stdout);
  assert.deepEqual(
    [second.orders_errors, second.orders_still_quarantined, second.orders_failed],
    [0, 6, 6],
  );
  assert.doesNotMatch(again.stderr, /Error archiving order/, "each logged once, when it entered");
  assert.match(
    again.stderr,
    /6 orders could not be archived \(invalid 0, conflicts 0, errors 0, still quarantined 6\)/,
  );
  const resaved = JSON.parse(await Deno.readTextFile(join(dir.path, "last-batch.json")));
  assert.deepEqual([resaved.orders_failed, resaved.exit_code, resaved.finished], [6, 1, true]);
});

Deno.test("bad input stops with one line and exit 2, before connecting", async (t) => {
  await using dir = await tempDir();
  const logs = join(dir.path, "logs");
  const cases: Array<[string[], string]> = [
    [
      ["--date-from", "2025-13-01"],
      'error: Invalid --date-from "2025-13-01": expected an ISO date',
    ],
    [
      ["--date-from", "today", "--date-to", "yesterday"],
      'error: Invalid date window: --date-from "today" is not before --date-to "yesterday"',
    ],
    [["--batch-size", "0"], 'error: Invalid --batch-size "0": expected an integer from 1 to 50000'],
    [["--limit", "-3"], 'error: Invalid --limit "-3": expected a positive integer'],
    [["--export", "no/such/folder/x.json"], "error: Cannot write --export"],
  ];
  for (const [args, line] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stdout, stderr } = await runBatch(
        "mongodb://127.0.0.1:9",
        "x",
        dir.path,
        ...args,
      );
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.ok(stderr.includes(line.replace(/^error: /, "")), stderr);
      await assert.rejects(
        Deno.stat(logs),
        Deno.errors.NotFound,
        "nothing written, not even a log",
      );
    });
  }
});

Deno.test("an unreachable server ends with exit 3 within the connect timeout, password masked", async () => {
  const started = performance.now();
  await using dir = await tempDir();
  const { code, stdout, stderr } = await cli(
    [
      "--uri",
      "mongodb://ops:Secr3t-Value@127.0.0.1:9/?serverSelectionTimeoutMS=200",
      "--log-dir",
      dir.path,
      "batch",
    ],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "200ms" } },
  );
  assert.equal(code, 3);
  assert.ok(performance.now() - started < 10_000, "bounded by ARCHIVER_CONNECT_TIMEOUT");
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /❌ Failed to connect to MongoDB at mongodb:\/\/ops:\*\*\*\*@127\.0\.0\.1:9/,
  );
  assert.equal(stderr.trim().split("\n").length, 1, `one line: ${stderr}`);
  assert.doesNotMatch(stderr, /Secr3t-Value/);
  assert.doesNotMatch(await Deno.readTextFile(join(dir.path, "batch.jsonl")), /Secr3t-Value/);
});

Deno.test("archiver batch --help", async () => {
  const { stdout } = await cli(["batch", "--help"], { plugins });
  await assertSnapshot("batch_help", stdout);
});
