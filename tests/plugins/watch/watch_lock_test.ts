import assert from "node:assert/strict";
import { hostname } from "node:os";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { archivedNumbers, assertEachOnce, deliver } from "../../support/faults.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

Deno.test("one watcher per token: a second one refuses with exit 2 and one line naming the first", async (t) => {
  const cases = [
    { name: "two watchers in one folder (one token file)", args: [], sameFolder: true },
    {
      name: "two watchers on one Mongo token without --ha",
      args: ["--token-store", "mongo"],
      sameFolder: false,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using tdb = await testDatabase("watch_lock");
      await using dirA = await tempDir();
      await using dirB = await tempDir();
      await seedOrders(tdb.db, { complete: 1, incomplete: 0, notDelivered: 0 });
      await using first = startWatcher(tdb.uri, tdb.dbName, dirA.path, c.args);
      await first.waitFor(/✅ Change Stream opened successfully/);
      const second = startWatcher(
        tdb.uri,
        tdb.dbName,
        c.sameFolder ? dirA.path : dirB.path,
        c.args,
      );
      const code = await second.exited;
      assert.equal(code, 2, second.stderr());
      const refusals = second.stderr().split("\n").filter((l) => /another watcher/i.test(l));
      assert.equal(refusals.length, 1, second.stderr());
      assert.match(refusals[0]!, new RegExp(`${hostname()}.*PID ${first.pid}\\b`));
      assert.doesNotMatch(second.stderr(), /Change Stream opened/);
      assert.equal((await first.stop()).code, 0);
      // Once the first stopped cleanly, the next starts.
      await using third = startWatcher(
        tdb.uri,
        tdb.dbName,
        c.sameFolder ? dirA.path : dirB.path,
        c.args,
      );
      await third.waitFor(/✅ Change Stream opened successfully/);
      assert.equal((await third.stop()).code, 0);
    });
  }
});

Deno.test("a watcher killed with -9 does not block the next one (file and Mongo token)", async (t) => {
  for (const args of [[], ["--token-store", "mongo"]]) {
    await t.step(args.join(" ") || "token file", async () => {
      await using tdb = await testDatabase("watch_lock_kill");
      await using dir = await tempDir();
      const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 2 });
      const courier = [...seeded.couriers.values()][0]!._id;
      const first = startWatcher(tdb.uri, tdb.dbName, dir.path, args);
      await first.waitFor(/✅ Change Stream opened successfully/);
      await first.stop("SIGKILL");
      await using next = startWatcher(tdb.uri, tdb.dbName, dir.path, args);
      await next.waitFor(/✅ Change Stream opened successfully/);
      for (const number of seeded.notDelivered) await deliver(tdb.db, number, { courier });
      await eventually(
        async () => (await archivedNumbers(tdb.db)).length >= 2,
        5_000,
        "2 archived",
      );
      assert.equal((await next.stop()).code, 0);
      assertEachOnce(await archivedNumbers(tdb.db), seeded.notDelivered);
    });
  }
});
