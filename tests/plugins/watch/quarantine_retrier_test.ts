import assert from "node:assert/strict";
import { type Db, type Document, ObjectId } from "mongodb";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

// Server commands other than the change stream's getMores (which wait on the server).
async function commandsSoFar(db: Db): Promise<number> {
  const status = await db.admin().command({ serverStatus: 1 });
  const counters = status.opcounters as Record<string, number | { toNumber(): number }>;
  let total = 0;
  for (const [name, value] of Object.entries(counters)) {
    if (name === "getmore") continue;
    total += typeof value === "number" ? value : value.toNumber();
  }
  return total;
}

// An entry as `archiver batch` writes it: due now.
const entry = (id: unknown, number: string) => ({
  _id: id,
  numero_commande: number,
  reason: "incomplete",
  detail: "client missing",
  first_seen: new Date(Date.now() - 3_600_000),
  last_attempt: new Date(Date.now() - 120_000),
  attempts: 3,
  next_attempt: new Date(Date.now() - 60_000),
});

Deno.test("quarantine entries written by another process: more than --batch-max are all retried and released, and entries that cannot be archived leave the watcher idle", async () => {
  await using tdb = await testDatabase("watch_quarantine_foreign");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 1 });
  const model = seeded.orders.get(seeded.notDelivered[0]!)!;
  const courier = [...seeded.couriers.values()][0]!._id;
  const missingClient = new ObjectId();
  // 12 delivered orders waiting for their client, and 6 entries whose orders are gone from the
  // source: neither can be archived; batch put them all in the quarantine.
  const stuck = Array.from({ length: 12 }, (_, i) => ({
    ...model,
    _id: new ObjectId(),
    numero_commande: `CMD-8${String(i).padStart(5, "0")}`,
    status: "livrée",
    date_livraison: new Date(Date.now() - 7_200_000),
    livreur_id: courier,
    client_id: missingClient,
  })) as Document[];
  await tdb.db.collection("Commande").insertMany(stuck);
  const ghosts = Array.from({ length: 6 }, (_, i) => entry(new ObjectId(), `CMD-7${i}`));
  await tdb.db.collection("archiver_quarantine").insertMany([
    ...stuck.map((o) => entry(o._id, o.numero_commande)),
    ...ghosts,
  ] as Document[]);

  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
    "--batch-max",
    "5",
    "--retry-interval",
    "1s",
  ]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  // Three retry intervals with nothing archivable: a few commands per round, no more.
  const before = await commandsSoFar(tdb.db);
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  const spent = await commandsSoFar(tdb.db) - before;
  assert.ok(spent <= 80, `${spent} server commands in 3.5 s idle (bound 80)`);

  // The client arrives: every stuck order is archived at the next round and leaves the quarantine.
  await tdb.db.collection("Client").insertOne({
    ...[...seeded.clients.values()][0]!,
    _id: missingClient,
  });
  const numbers = stuck.map((o) => o.numero_commande as string);
  await eventually(
    async () =>
      (await tdb.db.collection("Historique").countDocuments({
        numero_commande: { $in: numbers },
      })) ===
        numbers.length,
    10_000,
    "the 12 stuck orders archived",
  );
  await eventually(
    async () =>
      (await tdb.db.collection("archiver_quarantine").countDocuments({
        _id: { $in: stuck.map((o) => o._id) },
      })) === 0,
    5_000,
    "the 12 stuck orders released",
  );
  await watcher.stop();
});

Deno.test("QuarantineRetrier: a round serves each due order once, even when an attempt leaves it due", async (t) => {
  const { QuarantineRetrier } = await import("../../../plugins/watch/quarantine_retrier.ts");
  const { Quarantine } = await import("../../../core/archive/quarantine.ts");
  const { orderIdKey } = await import("../../../core/archive/order_id.ts");
  const { getLogger } = await import("@logtape/logtape");
  for (const release of [false, true]) {
    await t.step(release ? "attempts that archive" : "attempts that change nothing", async () => {
      await using tdb = await testDatabase("retrier_round");
      const collection = tdb.db.collection("archiver_quarantine");
      const quarantine = new Quarantine(collection, { retryIntervalMs: 60_000 });
      // 12 entries of every _id shape, all due: more than --batch-max (5).
      const ids: unknown[] = [1, "1", 2.5, { shop: 1, n: 1 }, { shop: 1, n: 2 }, new ObjectId()];
      for (let i = 0; i < 6; i++) ids.push(`order-${i}`);
      await collection.insertMany(ids.map((id, i) => entry(id, `CMD-${i}`)) as Document[]);
      const served: string[] = [];
      const retrier = new QuarantineRetrier(quarantine, {
        batchMax: 5,
        retryIntervalMs: 60_000,
        readDue: (limit) => quarantine.due(limit) as never,
        archive: async (orders) => {
          served.push(...orders.map((o) => orderIdKey(o._id)));
          if (release) await quarantine.release(orders.map((o) => o._id));
          return {
            archived: release ? orders.length : 0,
            recovered: release ? orders.length : 0,
            alreadyArchived: 0,
            duplicates: 0,
            incomplete: 0,
            invalid: 0,
            errors: 0,
          } as never;
        },
        figures: { retried: () => {} },
        log: getLogger(["test"]),
        signal: () => new AbortController().signal,
      });
      const recovered = await retrier.round();
      assert.equal(served.length, 12, `served ${served.length}`);
      assert.equal(new Set(served).size, 12, "no order served twice in one round");
      assert.equal(recovered, release ? 12 : 0);
      assert.equal(await collection.countDocuments(), release ? 0 : 12);
      // On the timer: one round now, none again before the interval.
      await retrier.maybeRetry();
      const afterRound = served.length;
      assert.equal(afterRound, release ? 12 : 24);
      await retrier.maybeRetry();
      assert.equal(served.length, afterRound, "no round before the interval");
    });
  }
});

Deno.test("QuarantineRetrier: an order left in the quarantine is tried again at every interval, not every other one", async () => {
  const { QuarantineRetrier } = await import("../../../plugins/watch/quarantine_retrier.ts");
  const { getLogger } = await import("@logtape/logtape");
  // The core reschedules an order one interval after its attempt, which ends after the round
  // began: the next round must not come an interval after the round's start, when it is not due.
  const cases: Array<[number, number]> = [[1, 10], [100, 10], [900, 5]];
  for (const [roundMs, intervals] of cases) {
    let now = 0;
    let nextAt = 0;
    let attempts = 0;
    const interval = 1_000;
    const retrier = new QuarantineRetrier({ counts: () => Promise.resolve({}) } as never, {
      batchMax: 5,
      retryIntervalMs: interval,
      readDue: () => Promise.resolve(now >= nextAt ? [{ _id: 1 }] : []),
      archive: () => {
        now += roundMs;
        attempts++;
        nextAt = now + interval;
        return Promise.resolve({ archived: 0, recovered: 0 } as never);
      },
      figures: { retried: () => {} },
      log: getLogger(["test"]),
      signal: () => new AbortController().signal,
      now: () => now,
    });
    const end = intervals * (interval + roundMs);
    while (now < end) {
      await retrier.maybeRetry();
      now += 10;
    }
    assert.ok(attempts >= intervals, `round of ${roundMs} ms: ${attempts} attempts`);
  }
});
