/**
 * The purge under faults and live traffic. The invariant: every delivered order is in the source
 * or recorded as purged, never both, never neither; every purged order's archive document holds
 * the order as it was; no pending mark is left once a run has ended; and no order changed after
 * it was archived is ever deleted.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { archiveOrders } from "../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../core/archive/collections.ts";
import { purgeArchived } from "../../core/archive/purge.ts";
import { spawnSelf } from "../../core/runtime/child_process.ts";
import { purge } from "../../plugins/purge/mod.ts";
import { cli, tempDir } from "../support/cli.ts";
import { faultRandom, reportFaults } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually } from "../support/watcher.ts";

const log = getLogger(["archiver", "test"]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function archivedLongAgo(db: Db, complete: number): Promise<string[]> {
  const seeded = await seedOrders(db, { complete, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(db.collection("Historique"));
  await archiveOrders(await db.collection("Commande").find().toArray(), {
    db,
    names,
    log,
    archivedBy: "batch",
  });
  await db.collection("Historique").updateMany({}, { $set: { archived_at: new Date(0) } });
  return seeded.complete;
}

async function assertPurgeInvariant(db: Db, numbers: readonly string[]): Promise<number> {
  const source = new Set(
    (await db.collection("Commande").find().toArray()).map((o) => o.numero_commande),
  );
  const archive = await db.collection("Historique").find().toArray();
  const purged = new Set(
    archive.filter((a) => a.purged_at instanceof Date).map((a) => a.numero_commande),
  );
  for (const number of numbers) {
    assert.ok(source.has(number) !== purged.has(number), `${number}: in the source xor purged`);
  }
  for (const a of archive) {
    assert.equal(a.purge_pending, undefined, `${a.numero_commande}: no pending mark left`);
    if (a.purged_at) assert.equal(a.source?.numero_commande, a.numero_commande);
  }
  return purged.size;
}

Deno.test("purge under live traffic: no order changed after archiving is deleted, every other one is", async () => {
  const { random } = faultRandom("purge_traffic");
  await using tdb = await testDatabase("fault_purge_traffic");
  const numbers = await archivedLongAgo(tdb.db, 300);
  const changed = new Set<string>();
  let running = true;
  const traffic = (async () => {
    let n = 0;
    while (running) {
      const number = numbers[Math.floor(random() * numbers.length)]!;
      const result = await tdb.db.collection("Commande").updateOne({ numero_commande: number }, {
        $set: { adresse_livraison: `changée ${n++}` },
      });
      // Changed while still in the source: the purge must never delete it.
      if (result.matchedCount === 1) changed.add(number);
      await sleep(random() * 4);
    }
  })();
  let counts;
  try {
    counts = await purgeArchived({
      db: tdb.db,
      names,
      log,
      runId: "traffic",
      criteria: { archivedBefore: new Date(), legalHoldField: "legal_hold" },
      chunkSize: 20,
    });
  } finally {
    running = false;
    await traffic;
  }
  const source = new Set(
    (await tdb.db.collection("Commande").find().toArray()).map((o) => o.numero_commande),
  );
  for (const number of changed) assert.ok(source.has(number), `${number} changed, kept`);
  const purged = await assertPurgeInvariant(tdb.db, numbers);
  assert.equal(purged, counts.purged);
  assert.equal(counts.purged + counts.changed, numbers.length);
  assert.ok(
    changed.size > 0 && counts.purged > 0,
    `${changed.size} changed, ${counts.purged} purged`,
  );
  console.error(
    `[faults] purge traffic: ${changed.size} orders changed during the purge (${counts.changedAtDelete} between check and delete), ${counts.purged} purged`,
  );
});

Deno.test("kill -9 of archiver purge mid-chunk (its delete in flight): the next run settles the chunk and finishes", async () => {
  await using tdb = await testDatabase("fault_purge_kill");
  await using dir = await tempDir();
  const numbers = await archivedLongAgo(tdb.db, 60);
  // The delete is held on the server for a while: the kill lands after the pending marks, with
  // the chunk's delete in flight.
  await tdb.db.admin().command({
    configureFailPoint: "failCommand",
    mode: { times: 1 },
    data: {
      failCommands: ["delete"],
      namespace: `${tdb.dbName}.Commande`,
      blockConnection: true,
      blockTimeMS: 1500,
    },
  });
  const child = spawnSelf([
    "--uri",
    tdb.uri,
    "--db",
    tdb.dbName,
    "--log-dir",
    join(dir.path, "logs"),
    "purge",
    "--older-than",
    "1d",
    "--chunk",
    "25",
  ], { cwd: dir.path, env: { NO_COLOR: "1" }, permissions: ["--allow-all"] });
  try {
    await eventually(
      async () =>
        await tdb.db.collection("Historique").countDocuments({ purge_pending: { $exists: true } }) >
          0,
      15_000,
      "the first chunk marked pending",
    );
    child.kill("SIGKILL");
    assert.notEqual(await child.exited, 0);
  } finally {
    child.kill("SIGKILL");
    await tdb.db.admin().command({ configureFailPoint: "failCommand", mode: "off" });
  }
  assert.equal(
    await tdb.db.collection("Historique").countDocuments({ purge_pending: { $exists: true } }),
    25,
    "the killed run left its chunk pending",
  );
  await sleep(1600); // the held delete, if the server still runs it, has run
  const rerun = await cli([
    "--uri",
    tdb.uri,
    "--db",
    tdb.dbName,
    "--log-dir",
    join(dir.path, "logs"),
    "purge",
    "--older-than",
    "1d",
    "--json",
  ], { plugins: [purge()], cwd: dir.path });
  assert.equal(rerun.code, 0, rerun.stderr);
  const report = JSON.parse(rerun.stdout);
  assert.equal(report.pending_reconciled, 25);
  assert.match(rerun.stderr, /Settled 25 purge marks an interrupted run left/);
  assert.equal(await assertPurgeInvariant(tdb.db, numbers), numbers.length);
  assert.equal(await tdb.db.collection("Commande").countDocuments(), 0);
  reportFaults("purge_kill", 1, numbers.length);
});
