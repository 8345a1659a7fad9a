/**
 * kill -9 of `archiver watch` at seeded random moments while orders keep being delivered: on
 * startup, during the catch-up, mid micro-batch, while idle. Replay a failure with the printed
 * `FAULT_SEED`.
 */

import assert from "node:assert/strict";
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
import { eventually, startWatcher, type WatcherProcess } from "../support/watcher.ts";

const KILLS = Number(Deno.env.get("FAULT_KILLS") ?? 24);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test(`kill -9 of watch at ${KILLS} random moments during a stream of deliveries: each complete delivered order archived exactly once`, async () => {
  const { random } = faultRandom("kill");
  await using tdb = await testDatabase("fault_kill");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 5, incomplete: 1, notDelivered: 1_500 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const pending = [...seeded.notDelivered];
  const delivered: string[] = [...seeded.complete];
  const dangling: string[] = [...Object.keys(seeded.incomplete)];

  let producing = true;
  const producer = (async () => {
    while (producing && pending.length > 0) {
      // Mostly single deliveries, sometimes a burst that fills a micro-batch.
      const burst = random() < 0.1 ? 5 + Math.floor(random() * 30) : 1;
      for (let i = 0; i < burst && pending.length > 0; i++) {
        const number = pending.shift()!;
        const incomplete = random() < 0.12;
        await deliver(tdb.db, number, { courier, dangling: incomplete });
        (incomplete ? dangling : delivered).push(number);
      }
      await sleep(5 + random() * 45);
    }
  })();

  const moments: Record<string, number> = { starting: 0, streaming: 0 };
  let watcher: WatcherProcess | undefined;
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--batch-max", "20"]);
      if (random() < 0.4) {
        // Anywhere from before the connection to the middle of the catch-up.
        moments.starting!++;
        await sleep(random() * 900);
      } else {
        await watcher.waitFor(/✅ Change Stream opened successfully/, 30_000);
        moments.streaming!++;
        await sleep(random() * 600);
      }
      await watcher.stop("SIGKILL");
      watcher = undefined;
    }
  } finally {
    producing = false;
    await producer;
  }

  watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  try {
    // It archives what the killed ones left: up before it is judged.
    await watcher.waitFor(/✅ Change Stream opened successfully/, 60_000);
    const expected = new Set(delivered);
    await eventually(
      async () =>
        (await archivedNumbers(tdb.db)).filter((n) => expected.has(n)).length >= expected.size,
      30_000,
      `${expected.size} orders archived`,
    );
    await sleep(500); // anything doubled or extra would have landed by now
    const result = assertEachOnce(await archivedNumbers(tdb.db), delivered);
    assert.equal(result.lost + result.doubled, 0);
    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
  } finally {
    await watcher.stop("SIGKILL");
  }
  console.error(
    `[faults] kill: ${KILLS} kills (${moments.starting} while starting, ${moments.streaming} while streaming), ${delivered.length} complete and ${dangling.length} incomplete deliveries`,
  );
  reportFaults("kill", KILLS, delivered.length + dangling.length);
});
