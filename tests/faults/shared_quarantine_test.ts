/**
 * One quarantine for every process: two `watch --ha` watchers with a failback (A → B → A by
 * kill -9), a `batch` and a `verify --repair`, all at once, while orders are delivered. The
 * quarantine starts with more stuck entries than `--batch-max`, written by "another process"
 * (straight into the collection, as an older run would have left them): some can be archived
 * now, some only once their client comes back, some never. Whatever process archives an order,
 * its entry leaves the quarantine; the rest are retried on their backoff, never hundreds of
 * times a second; and every delivered order ends archived once or quarantined with its reason.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Document } from "mongodb";
import { spawnSelf } from "../../core/runtime/child_process.ts";
import { orderIdKey } from "../../core/archive/order_id.ts";
import { batchArgs, tempDir } from "../support/cli.ts";
import { assertArchivedOrQuarantined, deliver } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { freePort } from "../support/ports.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher, type WatcherProcess } from "../support/watcher.ts";

const ENV = { ARCHIVER_LEASE_TTL_MS: "3000", ARCHIVER_LEASE_RENEW_MS: "1000" };
const RETRY = "1s";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("the quarantine shared by two HA watchers with a failback, a batch and verify --repair at once", async () => {
  await using tdb = await testDatabase("fault_shared_quarantine");
  await using dir = await tempDir();
  const { db } = tdb;
  const seeded = await seedOrders(db, { complete: 3, incomplete: 0, notDelivered: 120 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const pending = [...seeded.notDelivered];
  const orders = db.collection("Commande");
  const quarantine = db.collection("archiver_quarantine");

  // Stuck entries another process left, more than --batch-max (5): 8 archivable now, 8 whose
  // client comes back later, 8 that stay incomplete.
  const recordAsOther = async (numbers: string[], dangling: boolean) => {
    const ids: unknown[] = [];
    for (const number of numbers) {
      await deliver(db, number, { courier, dangling });
      const order = await orders.findOne({ numero_commande: number }) as Document;
      ids.push(order._id);
      await quarantine.insertOne({
        _id: order._id,
        numero_commande: number,
        reason: "incomplete",
        detail: "missing client",
        first_seen: new Date(Date.now() - 3_600_000),
        last_attempt: new Date(Date.now() - 60_000),
        attempts: 3,
        next_attempt: new Date(Date.now() - 1_000),
      });
    }
    return ids;
  };
  const archivable = await recordAsOther(pending.splice(0, 8), false);
  const comesBack = pending.splice(0, 8);
  await recordAsOther(comesBack, true);
  const never = await recordAsOther(pending.splice(0, 8), true);
  const startedAt = Date.now();

  const start = (name: string) =>
    startWatcher(tdb.uri, tdb.dbName, join(dir.path, name), [
      "--ha",
      "--token-store",
      "mongo",
      "--batch-max",
      "5",
      "--retry-interval",
      RETRY,
      "--metrics-port",
      String(freePort()),
    ], { env: ENV });
  await Deno.mkdir(join(dir.path, "a"));
  await Deno.mkdir(join(dir.path, "b"));
  const watchers: Record<string, WatcherProcess> = { a: start("a"), b: start("b") };
  const child = (args: string[]) =>
    spawnSelf(args, {
      cwd: dir.path,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      permissions: ["--allow-all"],
    });
  try {
    const active = async () => {
      const lease = await db.collection("archiver_leases").aggregate([
        { $match: { $expr: { $gt: ["$expires_at", "$$NOW"] } } },
      ]).toArray();
      const pid = String(lease[0]?.holder ?? "").split(":")[1];
      return Object.entries(watchers).find(([, w]) => String(w.pid) === pid)?.[0];
    };
    await eventually(async () => (await active()) !== undefined, 20_000, "a lease holder");

    // Deliveries go on while a batch and a verify --repair run beside the watchers.
    let producing = true;
    const delivered: string[] = [];
    const producer = (async () => {
      while (producing && pending.length > 0) {
        const number = pending.shift()!;
        await deliver(db, number, { courier });
        delivered.push(number);
        await sleep(30);
      }
    })();
    const batch = child([...batchArgs(tdb.uri, tdb.dbName, dir.path, "--batch-size", "5")]);
    const verify = child([
      "--uri",
      tdb.uri,
      "--db",
      tdb.dbName,
      "--log-dir",
      join(dir.path, "logs"),
      "verify",
      "--repair",
    ]);

    // Failback: A → B → A, each by kill -9 of the active watcher.
    for (let round = 0; round < 2; round++) {
      const holder = (await active())!;
      await watchers[holder]!.stop("SIGKILL");
      const other = holder === "a" ? "b" : "a";
      await eventually(async () => (await active()) === other, 20_000, `${other} takes over`);
      watchers[holder] = start(holder);
    }
    // Half of the missing clients come back: whoever retries next archives those orders.
    for (const number of comesBack) {
      const order = await orders.findOne({ numero_commande: number }) as Document;
      await db.collection("Client").insertOne({
        _id: order.client_id,
        nom: "Retour",
        prenom: "Client",
        email: "retour@exemple.fr",
        telephone: "06 00 00 00 09",
        adresse: "1 rue du Retour, Paris",
      });
    }
    assert.ok([0, 1].includes(await batch.exited), batch.stderr());
    await verify.exited; // 0 or "missing" while deliveries stream: its repair is what counts
    producing = false;
    await producer;

    const settledIds = [
      ...archivable,
      ...(await orders.find({ numero_commande: { $in: comesBack } }).toArray()).map((o) => o._id),
    ];
    await eventually(
      async () => {
        const archived = await db.collection("Historique").countDocuments({
          order_id: { $in: settledIds },
        } as Document);
        const stillHeld = await quarantine.countDocuments({ _id: { $in: settledIds } } as Document);
        const streamed = await db.collection("Historique").countDocuments({
          numero_commande: { $in: delivered },
        });
        return archived === settledIds.length && stillHeld === 0 &&
          streamed === delivered.length;
      },
      30_000,
      "every archivable order archived and released, whoever archived it",
    );

    const invariant = await assertArchivedOrQuarantined(db);
    assert.equal(invariant.lost, 0);
    assert.equal(invariant.doubled, 0);
    const left = await quarantine.find().toArray();
    assert.deepEqual(
      left.map((q) => orderIdKey(q._id)).sort(),
      never.map(orderIdKey).sort(),
      "only the orders that cannot be archived stay",
    );
    // Retried on the schedule, not re-merged in a loop: at most one attempt per retry interval
    // per process that could have tried (two watchers, a batch, a repair), plus the 3 it had.
    const seconds = (Date.now() - startedAt) / 1000;
    for (const entry of left) {
      assert.ok(
        entry.attempts <= 3 + 4 * Math.ceil(seconds) + 4,
        `${entry.numero_commande} tried ${entry.attempts} times in ${seconds.toFixed(0)} s`,
      );
      assert.ok(entry.next_attempt instanceof Date);
    }
  } finally {
    for (const watcher of Object.values(watchers)) {
      await watcher.stop("SIGKILL").catch(() => {});
    }
  }
});
