/**
 * The throttle against a sandbox whose secondary lags: replica set status shows it, majority
 * writes wait for it as MongoDB's do, and the purge pauses and says why.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type Db, MongoClient } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { startSandbox } from "../../../sandbox/mod.ts";
import { majorityWait } from "../../../sandbox/engine/secondary_lag.ts";
import { archiveOrders } from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { purgeArchived } from "../../../core/archive/purge.ts";
import { measureReplicaLag } from "../../../core/mongo/replica_lag.ts";
import { purgeGate } from "../../../plugins/purge/gate.ts";
import { purge } from "../../../plugins/purge/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";

const log = getLogger(["archiver", "test"]);

async function archivedLongAgo(db: Db, complete: number): Promise<void> {
  await seedOrders(db, { complete, incomplete: 0, notDelivered: 0 });
  await ensureArchiveIndex(db.collection("Historique"));
  await archiveOrders(await db.collection("Commande").find().toArray(), {
    db,
    names,
    log,
    archivedBy: "batch",
  });
  await db.collection("Historique").updateMany({}, { $set: { archived_at: new Date(0) } });
}

Deno.test("a sandbox secondary 20 s behind: replica set status shows it, majority writes time out as MongoDB's", async () => {
  await using sandbox = await startSandbox({ secondaryLagMs: 20_000 });
  const client = new MongoClient(sandbox.uri);
  try {
    const admin = client.db("admin");
    const probe = client.db("lag").collection("probe");
    const status = await measureReplicaLag(admin, { probe, maxLagMs: 10_000 });
    assert.equal(status.how, "replSetGetStatus");
    assert.ok(Math.abs(status.lagMs - 20_000) <= 1000, `lag ${status.lagMs}`);
    assert.match(status.text, /secondary .* is 2\d\.\ds behind/);
    // A majority write bounded below the lag: applied on the primary, error 64 after the bound.
    sandbox.setSecondaryLag(1_000);
    const bounded = await measureReplicaLag(admin, {
      probe,
      maxLagMs: 200,
      statusRefused: true,
    });
    assert.equal(bounded.how, "majority_write");
    assert.ok(bounded.lagMs > 200);
    assert.match(bounded.text, /did not confirm a write within 200ms \(code 64\)/);
    assert.equal(await probe.countDocuments({ _id: "purge_lag_probe" as never }), 1);
    // w: 1 never waits; caught up, the majority confirms.
    await probe.insertOne({ w1: true }, { writeConcern: { w: 1, wtimeoutMS: 1 } });
    sandbox.setSecondaryLag(0);
    const caughtUp = await measureReplicaLag(admin, { probe, maxLagMs: 200, statusRefused: true });
    assert.equal(caughtUp.lagMs, 0);
  } finally {
    await client.close();
  }
});

Deno.test("the purge pauses while the secondary lags more than --max-lag, says why, then purges", async () => {
  await using sandbox = await startSandbox();
  const client = new MongoClient(sandbox.uri);
  try {
    const db = client.db("purge_lag");
    await archivedLongAgo(db, 6);
    sandbox.setSecondaryLag(20_000);
    const waits: Array<{ ms: number; lagShown: number }> = [];
    const gate = purgeGate({
      admin: client.db("admin"),
      probe: db.collection("archiver_runs"),
      log,
      startedAt: new Date(),
      limits: { maxLagMs: 10_000, maxRate: 0, runTimeMs: 0 },
      // The fake clock's sleep: the secondary catches up after the third wait.
      wait: (ms) => {
        waits.push({ ms, lagShown: gate.lastLag?.seconds ?? -1 });
        if (waits.length === 3) sandbox.setSecondaryLag(0);
        return Promise.resolve();
      },
    });
    const counts = await purgeArchived({
      db,
      names,
      log,
      runId: "lag-test",
      criteria: { archivedBefore: new Date(), legalHoldField: "legal_hold" },
      chunkSize: 3,
      gate: gate.decide,
    });
    assert.equal(counts.purged, 6);
    assert.equal(waits.length, 3, "three waits while 20 s behind, none after");
    for (const wait of waits) assert.ok(wait.lagShown >= 19, `lag shown ${wait.lagShown}`);
    assert.deepEqual(gate.pauses.lag, { count: 1, seconds: 3 });
    assert.equal(await db.collection("Commande").countDocuments(), 0);
  } finally {
    await client.close();
  }
});

Deno.test("archiver purge on a lagging set reports the lag pause and stops at --run-time, nothing deleted", async () => {
  await using sandbox = await startSandbox();
  await using dir = await tempDir();
  const client = new MongoClient(sandbox.uri);
  try {
    const db = client.db("purge_lag_cli");
    await archivedLongAgo(db, 3);
    sandbox.setSecondaryLag(20_000);
    const metrics = join(dir.path, "purge.prom");
    const { code, stdout, stderr } = await cli([
      "--uri",
      sandbox.uri,
      "--db",
      "purge_lag_cli",
      "--log-dir",
      join(dir.path, "logs"),
      "purge",
      "--older-than",
      "1d",
      "--run-time",
      "2s",
      "--metrics-file",
      metrics,
      "--json",
    ], { plugins: [purge()], cwd: dir.path });
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /⏸️ Purge paused: the secondaries lag by 2\d\.\ds, more than --max-lag 10s/,
    );
    assert.match(stderr, /⏹️ Purge stops at a chunk's end: the run time of 2s is over/);
    const report = JSON.parse(stdout);
    assert.equal(report.orders_purged, 0);
    assert.equal(report.pauses.lag.count, 1);
    assert.equal(report.stopped, "run_time");
    assert.ok(report.lag_seconds >= 19);
    assert.match(await Deno.readTextFile(metrics), /^archiver_purge_pauses\{reason="lag"\} 1$/m);
    sandbox.setSecondaryLag(0);
    assert.equal(await db.collection("Commande").countDocuments(), 3);
  } finally {
    await client.close();
  }
});

Deno.test("majorityWait() waits for the lagging secondary only when the write concern needs it", () => {
  const cases: Array<[unknown, number, { waitMs: number; timedOut: boolean }]> = [
    [undefined, 20_000, { waitMs: 0, timedOut: false }],
    [{ w: 1 }, 20_000, { waitMs: 0, timedOut: false }],
    [{ w: "majority" }, 0, { waitMs: 0, timedOut: false }],
    [{ w: "majority" }, 20_000, { waitMs: 20_000, timedOut: false }],
    [{ w: "majority", wtimeout: 5_000 }, 20_000, { waitMs: 5_000, timedOut: true }],
    [{ w: "majority", wtimeout: 30_000 }, 20_000, { waitMs: 20_000, timedOut: false }],
    [{ w: 2, wtimeout: 100 }, 1_000, { waitMs: 100, timedOut: true }],
  ];
  for (const [concern, lag, expected] of cases) {
    assert.deepEqual(majorityWait(concern, lag), expected, JSON.stringify(concern));
  }
});
