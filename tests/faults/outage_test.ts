/**
 * The server stopped for 30 s while the watcher runs, with deliveries in flight when it went down
 * and more right after it came back: the watcher retries with backoff (not a hot loop), resumes
 * from its token and archives everything once. Needs a server the test can stop, so it runs on the
 * sandbox only; with `MONGODB_TEST_URI` (or a local mongod) it is skipped, as its name says.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { tempDir } from "../support/cli.ts";
import { archivedNumbers, assertEachOnce, deliver, reportFaults } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { dedicatedSandbox, testBackendKind } from "../support/test_db.ts";
import { eventually, startWatcher } from "../support/watcher.ts";

const OUTAGE_MS = Number(Deno.env.get("FAULT_OUTAGE_MS") ?? 30_000);
const onSandbox = (await testBackendKind()) === "sandbox";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test({
  name: onSandbox
    ? `the server down for ${
      OUTAGE_MS / 1000
    } s: watch backs off, resumes and catches up, each order once`
    : "the server down for 30 s: SKIPPED on a real server (a test cannot stop it)",
  ignore: !onSandbox,
  async fn() {
    await using sandbox = await dedicatedSandbox();
    assert.ok(sandbox);
    await using dir = await tempDir();
    const client = new MongoClient(sandbox.uri, { serverSelectionTimeoutMS: 2_000 });
    const watcher = startWatcher(sandbox.uri, "fault_outage", dir.path, [
      "--status-file",
      "status.json",
    ]);
    try {
      const db = client.db("fault_outage");
      const seeded = await seedOrders(db, { complete: 3, incomplete: 1, notDelivered: 30 });
      const courier = [...seeded.couriers.values()][0]!._id;
      const [before, inFlight, after] = [
        seeded.notDelivered.slice(0, 5),
        seeded.notDelivered.slice(5, 10),
        seeded.notDelivered.slice(10, 20),
      ];
      await watcher.waitFor(/✅ Change Stream opened successfully/);
      for (const number of before) await deliver(db, number, { courier });
      await eventually(
        async () => (await archivedNumbers(db)).filter((n) => before.includes(n)).length === 5,
        15_000,
        "the 5 orders delivered before the outage archived",
      );

      // Delivered, and the server goes down before the watcher has had time to archive them.
      for (const number of inFlight) await deliver(db, number, { courier });
      await sandbox.pause();
      const downAt = Date.now();
      // Within the outage (not at one moment of it: a loaded machine notices the server gone
      // later), the status file tells health it is reconnecting.
      await eventually(
        async () =>
          JSON.parse(await Deno.readTextFile(join(dir.path, "status.json"))).state ===
            "reconnecting",
        OUTAGE_MS - 5_000,
        "the status file to say reconnecting while the server is down",
      );
      await sleep(OUTAGE_MS - (Date.now() - downAt));
      const errorsWhileDown = (watcher.stderr().match(/❌ Change Stream error/g) ?? []).length;
      await sandbox.resume();
      const upAt = Date.now();

      for (const number of after) await deliver(db, number, { courier });
      const expected = [...seeded.complete, ...before, ...inFlight, ...after];
      const want = new Set(expected);
      // Backoff is capped at 30 s, with full jitter: the next attempt comes within that.
      await eventually(
        async () => (await archivedNumbers(db)).filter((n) => want.has(n)).length >= want.size,
        45_000,
        `${want.size} orders archived after the outage`,
      );
      const caughtUpMs = Date.now() - upAt;
      await sleep(500);
      assertEachOnce(await archivedNumbers(db), expected);

      assert.ok(errorsWhileDown >= 2, `retried while down:\n${watcher.stderr()}`);
      // Exponential backoff: a hot loop would log hundreds of errors in 30 s.
      assert.ok(errorsWhileDown <= 20, `${errorsWhileDown} errors in ${OUTAGE_MS} ms`);
      const { code } = await watcher.stop("SIGTERM");
      assert.equal(code, 0, watcher.stderr());
      const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
      assert.ok(status.metrics.connection_errors >= errorsWhileDown);
      console.error(
        `[faults] outage: ${errorsWhileDown} connection errors while down ${OUTAGE_MS} ms, caught up ${caughtUpMs} ms after the restart`,
      );
      reportFaults("outage", 1, expected.length + 1);
    } finally {
      await watcher.stop("SIGKILL");
      await client.close();
    }
  },
});
