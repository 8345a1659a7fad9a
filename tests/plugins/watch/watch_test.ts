import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { dedicatedSandbox, testDatabase } from "../../support/test_db.ts";
import { archivedNumbers, assertEachOnce } from "../../support/faults.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

// Delivering assigns a courier, as the order lifecycle does (orders waiting have none yet).
let courier: unknown;
const deliver = (number: string) => ({
  filter: { numero_commande: number },
  update: { $set: { status: "livrée", date_livraison: new Date(), livreur_id: courier } },
});

async function seed(db: import("mongodb").Db, options: Parameters<typeof seedOrders>[1]) {
  const seeded = await seedOrders(db, options);
  courier = [...seeded.couriers.values()][0]!._id;
  return seeded;
}

Deno.test("watch catches up, then archives an order within a second of its delivery; other changes are ignored", async () => {
  await using tdb = await testDatabase("watch_live");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 3, incomplete: 1, notDelivered: 4 });
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  assertEachOnce(await archivedNumbers(tdb.db), seeded.complete);

  const orders = tdb.db.collection("Commande");
  const [waiting, preparing] = seeded.notDelivered;
  await orders.updateOne({ numero_commande: waiting }, { $set: { status: "en_preparation" } });
  const { filter, update } = deliver(preparing!);
  const deliveredAt = Date.now();
  await orders.updateOne(filter, update);
  await eventually(
    async () =>
      (await tdb.db.collection("Historique").countDocuments({ numero_commande: preparing })) === 1,
    1_000,
    `${preparing} in the archive`,
  );
  assert.ok(Date.now() - deliveredAt < 1_000);
  const archived = (await tdb.db.collection("Historique").findOne({ numero_commande: preparing }))!;
  assert.equal(archived.archived_by, "watch");
  assert.equal(archived.client.nom.startsWith("Martin"), true);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEachOnce(await archivedNumbers(tdb.db), [...seeded.complete, preparing!]);
  assert.equal(
    await tdb.db.collection("Historique").countDocuments({ numero_commande: waiting }),
    0,
  );
});

Deno.test("SIGTERM: exit 0 within 2 s with the token and a final status saved", async () => {
  await using tdb = await testDatabase("watch_sigterm");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 2 });
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  const { filter, update } = deliver(seeded.notDelivered[1]!);
  await tdb.db.collection("Commande").updateOne(filter, update);
  await watcher.waitFor(/✅ Archived 1 order in the last/);
  const { code, ms } = await watcher.stop("SIGTERM");
  assert.equal(code, 0, watcher.stderr());
  assert.ok(ms < 2_000, `stopped in ${ms} ms`);
  const token = JSON.parse(await Deno.readTextFile(join(dir.path, ".resume_token.json")));
  assert.equal(token.namespace, `${tdb.dbName}.Commande`);
  assert.ok(token.token._data);
  const status = JSON.parse(await Deno.readTextFile(join(dir.path, "archiver-status.json")));
  assert.equal(status.state, "stopped");
  assert.equal(status.metrics.events_archived, 1);
});

Deno.test("kill -9 mid-stream, more deliveries while down, restart: each order archived exactly once", async () => {
  await using tdb = await testDatabase("watch_kill");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 40 });
  const orders = tdb.db.collection("Commande");
  const numbers = seeded.notDelivered;
  let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  for (const number of numbers.slice(0, 15)) {
    const { filter, update } = deliver(number);
    await orders.updateOne(filter, update);
  }
  await watcher.stop("SIGKILL");
  for (const number of numbers.slice(15, 30)) {
    const { filter, update } = deliver(number);
    await orders.updateOne(filter, update);
  }
  watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  for (const number of numbers.slice(30)) {
    const { filter, update } = deliver(number);
    await orders.updateOne(filter, update);
  }
  await eventually(async () => (await archivedNumbers(tdb.db)).length >= 40, 10_000, "40 archived");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEachOnce(await archivedNumbers(tdb.db), numbers);
  await watcher.stop();
});

Deno.test("the token file deleted while the watcher was down: the catch-up covers the gap", async () => {
  await using tdb = await testDatabase("watch_token_deleted");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 10 });
  const orders = tdb.db.collection("Commande");
  let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  await orders.updateOne(
    deliver(seeded.notDelivered[0]!).filter,
    deliver(seeded.notDelivered[0]!).update,
  );
  await watcher.waitFor(/✅ Archived 1 order in the last/);
  await watcher.stop();
  await Deno.remove(join(dir.path, ".resume_token.json"));
  for (const number of seeded.notDelivered.slice(1, 6)) {
    await orders.updateOne(deliver(number).filter, deliver(number).update);
  }
  watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Archived 5 orders \(catch-up\)/);
  await watcher.stop();
  assertEachOnce(await archivedNumbers(tdb.db), seeded.notDelivered.slice(0, 6));
});

Deno.test("a corrupt token file is reported in one line and treated as missing", async (t) => {
  const cases: Array<[string, string]> = [
    ["empty", ""],
    ["truncated", '{"token":{"_da'],
    ["garbage", "\u0000\u0001zz"],
  ];
  for (const [name, content] of cases) {
    await t.step(name, async () => {
      await using tdb = await testDatabase("watch_corrupt");
      await using dir = await tempDir();
      const seeded = await seed(tdb.db, { complete: 2, incomplete: 0, notDelivered: 0 });
      await Deno.writeTextFile(join(dir.path, ".resume_token.json"), content);
      const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
      await watcher.waitFor(/✅ Change Stream opened successfully/);
      const { code } = await watcher.stop();
      assert.equal(code, 0);
      const warnings = watcher.stderr().split("\n").filter((l) =>
        l.includes("⚠️ Could not load resume token")
      );
      assert.equal(warnings.length, 1, watcher.stderr());
      assertEachOnce(await archivedNumbers(tdb.db), seeded.complete);
    });
  }
});

Deno.test("a token from another collection is not used to resume", async () => {
  await using tdb = await testDatabase("watch_foreign_token");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 2, incomplete: 0, notDelivered: 0 });
  await Deno.writeTextFile(
    join(dir.path, ".resume_token.json"),
    JSON.stringify({
      token: { _data: "8263" },
      cluster_time: null,
      saved_at: new Date().toISOString(),
      namespace: "other.Orders",
    }),
  );
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  await watcher.stop();
  assert.match(watcher.stderr(), /⚠️ Could not load resume token: .* belongs to other\.Orders/);
  assertEachOnce(await archivedNumbers(tdb.db), seeded.complete);
});

Deno.test("a token file that cannot be written: archiving goes on, the error is logged once, exit 0", async () => {
  await using tdb = await testDatabase("watch_token_unwritable");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 4 });
  await Deno.writeTextFile(join(dir.path, "blocker"), "a file where the token's folder should be");
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
    "--token-file",
    "blocker/token.json",
  ]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  for (const number of seeded.notDelivered) {
    await tdb.db.collection("Commande").updateOne(deliver(number).filter, deliver(number).update);
  }
  await eventually(async () => (await archivedNumbers(tdb.db)).length >= 4, 5_000, "4 archived");
  // The save after a micro-batch fails: stopped only once it has been tried.
  await watcher.waitFor(/❌ Could not save resume token/);
  const { code } = await watcher.stop();
  assert.equal(code, 0, watcher.stderr());
  const errors = watcher.stderr().split("\n").filter((l) =>
    l.includes("❌ Could not save resume token")
  );
  assert.equal(errors.length, 1, watcher.stderr());
  assertEachOnce(await archivedNumbers(tdb.db), seeded.notDelivered);
});

Deno.test("a token older than the oplog: recovery through the catch-up", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 5 });
  if (!sandbox) return; // A real server's oplog cannot be shrunk from a test.
  await using dir = await tempDir();
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  try {
    const db = client.db("watch_oplog");
    const seeded = await seed(db, { complete: 0, incomplete: 0, notDelivered: 30 });
    const orders = db.collection("Commande");
    let watcher = startWatcher(sandbox.uri, "watch_oplog", dir.path);
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    await orders.updateOne(
      deliver(seeded.notDelivered[0]!).filter,
      deliver(seeded.notDelivered[0]!).update,
    );
    await watcher.waitFor(/✅ Archived 1 order in the last/);
    await watcher.stop();
    // Far more writes than the oplog keeps: the saved token falls out of it.
    for (const number of seeded.notDelivered.slice(1, 25)) {
      await orders.updateOne(deliver(number).filter, deliver(number).update);
    }
    watcher = startWatcher(sandbox.uri, "watch_oplog", dir.path);
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    await eventually(
      async () => (await db.collection("Historique").countDocuments()) >= 25,
      10_000,
      "25 archived",
    );
    await watcher.stop();
    assert.match(watcher.stderr(), /Could not resume the change stream .*code 286/);
    const numbers = (await db.collection("Historique").find().toArray()).map((d) =>
      d.numero_commande
    ).sort();
    assertEachOnce(numbers, seeded.notDelivered.slice(0, 25));
  } finally {
    await client.close();
  }
});

Deno.test("failCommand closing connections and failing getMore: it recovers and counts the errors", async () => {
  await using tdb = await testDatabase("watch_faults");
  await using dir = await tempDir();
  const seeded = await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 6 });
  const orders = tdb.db.collection("Commande");
  const admin = tdb.client.db("admin");
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--status-file", "status.json"]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  try {
    await admin.command({
      configureFailPoint: "failCommand",
      mode: { times: 2 },
      data: {
        failCommands: ["getMore"],
        errorCode: 91,
        errorLabels: ["ResumableChangeStreamError"],
      },
    });
    await orders.updateOne(
      deliver(seeded.notDelivered[0]!).filter,
      deliver(seeded.notDelivered[0]!).update,
    );
    await admin.command({
      configureFailPoint: "failCommand",
      mode: { times: 3 },
      data: { failCommands: ["getMore", "aggregate"], closeConnection: true },
    });
    for (const number of seeded.notDelivered.slice(1)) {
      await orders.updateOne(deliver(number).filter, deliver(number).update);
    }
    await eventually(async () => (await archivedNumbers(tdb.db)).length >= 6, 15_000, "6 archived");
  } finally {
    await admin.command({ configureFailPoint: "failCommand", mode: "off" });
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const { code } = await watcher.stop();
  assert.equal(code, 0);
  assertEachOnce(await archivedNumbers(tdb.db), seeded.notDelivered);
  const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
  assert.ok(status.metrics.connection_errors >= 1, watcher.stderr());
  assert.match(watcher.stderr(), /❌ Change Stream error/);
});

Deno.test("two watchers on one stream never double an archive document", async () => {
  await using tdb = await testDatabase("watch_two");
  await using dirA = await tempDir();
  await using dirB = await tempDir();
  const seeded = await seed(tdb.db, { complete: 5, incomplete: 0, notDelivered: 20 });
  await using a = startWatcher(tdb.uri, tdb.dbName, dirA.path);
  await using b = startWatcher(tdb.uri, tdb.dbName, dirB.path);
  await a.waitFor(/✅ Change Stream opened successfully/);
  await b.waitFor(/✅ Change Stream opened successfully/);
  for (const number of seeded.notDelivered) {
    await tdb.db.collection("Commande").updateOne(deliver(number).filter, deliver(number).update);
  }
  await eventually(async () => (await archivedNumbers(tdb.db)).length >= 25, 10_000, "25 archived");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assertEachOnce(await archivedNumbers(tdb.db), [...seeded.complete, ...seeded.notDelivered]);
});

Deno.test("SIGTERM with the idle read's long await (no --batch-wait-ms): exit 0 within 2 s, not at the read's end", async () => {
  await using tdb = await testDatabase("watch_sigterm_idle");
  await using dir = await tempDir();
  await seed(tdb.db, { complete: 0, incomplete: 0, notDelivered: 1 });
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--batch-wait-ms", "0"]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  const status = JSON.parse(await Deno.readTextFile(join(dir.path, "archiver-status.json")));
  assert.equal(status.max_await_ms, 20_000, "an idle read waits 20 s");
  await new Promise((resolve) => setTimeout(resolve, 500)); // a read in flight, far from its end
  const { code, ms } = await watcher.stop("SIGTERM");
  assert.equal(code, 0, watcher.stderr());
  assert.ok(ms < 2_000, `stopped in ${ms} ms`);
  const stopped = JSON.parse(await Deno.readTextFile(join(dir.path, "archiver-status.json")));
  assert.equal(stopped.state, "stopped");
});
