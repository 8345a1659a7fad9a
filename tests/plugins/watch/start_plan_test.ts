import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

Deno.test("a saved token wins over --catch-up-since: an order delivered while down, dated before the window, is archived", async () => {
  await using tdb = await testDatabase("watch_since_token");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 2 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const first = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await first.waitFor(/✅ Change Stream opened successfully/);
  await tdb.db.collection("Commande").updateOne({ numero_commande: seeded.notDelivered[1]! }, {
    $set: { status: "livrée", date_livraison: new Date(), livreur_id: courier },
  });
  await first.waitFor(/✅ Archived 1 order in the last/);
  assert.equal((await first.stop()).code, 0);
  const saved = JSON.parse(await Deno.readTextFile(join(dir.path, ".resume_token.json")));
  assert.ok(saved.token);

  // A courier app syncing late: delivered now, dated ten days ago.
  const late = seeded.notDelivered[0]!;
  const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
  await tdb.db.collection("Commande").updateOne({ numero_commande: late }, {
    $set: { status: "livrée", date_livraison: tenDaysAgo, livreur_id: courier },
  });
  await using second = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--catch-up-since", "1d"]);
  await second.waitFor(/✅ Change Stream opened successfully/);
  await eventually(
    async () =>
      (await tdb.db.collection("Historique").countDocuments({ numero_commande: late })) === 1,
    10_000,
    `${late} archived`,
  );
  await second.stop();
  assert.match(second.stderr(), /Resuming after the token saved at .*--catch-up-since .* not used/);
  assert.doesNotMatch(second.stderr(), /Catching up on delivered orders delivered since/);
});

Deno.test("--catch-up-since without a saved token catches up over its window and says so", async () => {
  await using tdb = await testDatabase("watch_since_first");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 2, incomplete: 0, notDelivered: 0 });
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--catch-up-since", "7d"]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  await watcher.stop();
  assert.match(
    watcher.stderr(),
    /No saved resume token: catching up on delivered orders delivered since/,
  );
  assert.equal(await tdb.db.collection("Historique").countDocuments(), 2);
});

Deno.test("startPlan() chooses the saved token over --catch-up-since, and says which start it is", async (t) => {
  const { startPlan } = await import("../../../plugins/watch/start_plan.ts");
  const since = new Date("2026-01-01T00:00:00Z");
  const saved = {
    token: { _data: "8200000001000000010104" },
    clusterTime: null,
    savedAt: new Date("2026-02-01T00:00:00Z"),
    namespace: "shop.Commande",
  };
  const cases = [
    {
      name: "token",
      saved,
      flags: {},
      kind: "resume",
      says: /^Resuming after the token saved at 2026-02-01T00:00:00.000Z$/,
    },
    {
      name: "token and --catch-up-since",
      saved,
      flags: { catchUpSince: since },
      kind: "resume",
      says: /^Resuming after .*--catch-up-since 2026-01-01T00:00:00.000Z not used/,
    },
    {
      name: "no token and --catch-up-since",
      saved: undefined,
      flags: { catchUpSince: since },
      kind: "catch-up",
      says: /^No saved resume token: catching up on delivered orders delivered since 2026-01-01/,
    },
    {
      name: "no token",
      saved: undefined,
      flags: {},
      kind: "catch-up",
      says: /^No saved resume token: catching up on every delivered order/,
    },
    {
      name: "--from-now with a token",
      saved,
      flags: { fromNow: true },
      kind: "now",
      says: /--from-now/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const chosen = startPlan(c.saved, c.flags);
      assert.equal(chosen.plan.kind, c.kind);
      assert.match(chosen.message, c.says);
      if (chosen.plan.kind === "catch-up") assert.equal(chosen.plan.since, c.flags.catchUpSince);
    });
  }
});

Deno.test("planWatch() refuses a bad --catch-up-since and --from-now with it", async (t) => {
  const { planWatch } = await import("../../../plugins/watch/start_plan.ts");
  for (
    const [flags, says] of [
      [{ catchUpSince: "2025-13-01" }, /Invalid --catch-up-since "2025-13-01"/],
      [{ catchUpSince: "7d", fromNow: true }, /Choose one of --from-now and --catch-up-since/],
    ] as const
  ) {
    await t.step(JSON.stringify(flags), () => assert.throws(() => planWatch(flags), says));
  }
  assert.equal(planWatch({}), undefined);
});
