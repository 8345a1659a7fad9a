/**
 * batch and watch at the same time over the same orders — the watcher's catch-up racing batch
 * runs over the same backlog, while new deliveries stream in: no order archived twice, and what
 * each one reports archiving adds up to exactly the archive's size.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnSelf } from "../../core/runtime/child_process.ts";
import { tempDir } from "../support/cli.ts";
import {
  archivedNumbers,
  assertEachOnce,
  deliver,
  faultRandom,
  reportFaults,
} from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher } from "../support/watcher.ts";

Deno.test("batch and watch at once over the same orders: no duplicates, counts add up", async () => {
  const { random } = faultRandom("concurrent");
  await using tdb = await testDatabase("fault_concurrent");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 400, incomplete: 8, notDelivered: 150 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const expected = [...seeded.complete];

  // Separate processes, as cron would run them (LogTape is configured once per process).
  const runBatch = async (i: number) => {
    await using batch = spawnSelf([
      "--uri",
      tdb.uri,
      "--db",
      tdb.dbName,
      "--log-dir",
      join(dir.path, "logs"),
      "batch",
      "--json",
      "--batch-size",
      String(3 + Math.floor(random() * 20)),
      "--report-file",
      join(dir.path, `batch-${i}.json`),
    ], { cwd: dir.path, env: { NO_COLOR: "1" }, stdout: "piped", permissions: ["--allow-all"] });
    return { code: await batch.exited, stdout: batch.stdout(), stderr: batch.stderr() };
  };

  // The watcher's catch-up and two batches (separate processes) start on the same backlog together.
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
    "--batch-max",
    "16",
    "--status-file",
    "status.json",
  ]);
  try {
    const batches = [runBatch(1), runBatch(2)];
    let delivering = true;
    const producer = (async () => {
      for (const number of seeded.notDelivered) {
        if (!delivering) break;
        const dangling = random() < 0.1;
        await deliver(tdb.db, number, { courier, dangling });
        if (!dangling) expected.push(number);
        await new Promise((resolve) => setTimeout(resolve, random() * 10));
      }
    })();
    const results = await Promise.all(batches);
    results.push(await runBatch(3)); // one more while the watcher streams
    delivering = false;
    await producer;
    const want = new Set(expected);
    await eventually(
      async () => (await archivedNumbers(tdb.db)).filter((n) => want.has(n)).length >= want.size,
      20_000,
      `${want.size} archived`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const numbers = await archivedNumbers(tdb.db);
    assertEachOnce(numbers, expected);

    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
    let byBatch = 0;
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.equal(report.orders_errors, 0);
      byBatch += report.orders_archived;
    }
    const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
    assert.equal(status.metrics.orders_errors, 0);
    const byWatch = status.metrics.events_archived as number;
    assert.equal(byBatch + byWatch, numbers.length, "each order counted archived by one of them");
    const who = await tdb.db.collection("Historique").aggregate([
      { $group: { _id: "$archived_by", n: { $sum: 1 } } },
    ]).toArray();
    assert.equal(
      who.reduce((sum, g) => sum + (g.n as number), 0),
      numbers.length,
    );
    console.error(
      `[faults] concurrent: ${byBatch} archived by batch, ${byWatch} by watch, ${numbers.length} in the archive`,
    );
    reportFaults("concurrent", 0, expected.length + 8);
  } finally {
    await watcher.stop("SIGKILL");
  }
});
