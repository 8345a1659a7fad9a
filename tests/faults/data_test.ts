/**
 * Malformed delivered orders — a delivery date missing, null or a string, items that are not an
 * array, a quantity that is a string, no order number, a number that is a number, a missing
 * client, an order of 20,000 items — among good ones, through `archiver batch` and `archiver
 * watch` (its catch-up, live, and a restart): every good order is archived once in the same pass,
 * each bad one is quarantined with its reason and a detail naming the field, nothing is archived
 * under a null number, and the watcher stays up and idle.
 */

import assert from "node:assert/strict";
import { type Db, type Document, ObjectId } from "mongodb";
import { batch } from "../../plugins/batch/mod.ts";
import { batchArgs, cli, tempDir } from "../support/cli.ts";
import {
  archivedNumbers,
  assertArchivedOrQuarantined,
  assertIdleCpu,
  deliver,
  type OrderOutcome,
  reportFaults,
} from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher, type WatcherProcess } from "../support/watcher.ts";

type Order = Record<string, unknown>;

interface Malformed {
  /** What is wrong with the order. */
  name: string;
  /** Where it must end up. */
  outcome: OrderOutcome | readonly OrderOutcome[];
  /** What the quarantine's `detail` must name. */
  detail: RegExp;
  /** Turns a good delivered order into this bad one. */
  spoil(order: Order): void;
}

const items = (order: Order) => order.items as Array<Record<string, unknown>>;

/** The table: each row is one malformed delivered order, inserted among good ones. */
const MALFORMED: Malformed[] = [
  {
    name: "date_livraison missing",
    outcome: "invalid",
    detail: /date_livraison/,
    spoil: (o) => void delete o.date_livraison,
  },
  {
    name: "date_livraison null",
    outcome: "invalid",
    detail: /date_livraison/,
    spoil: (o) => void (o.date_livraison = null),
  },
  {
    name: "date_livraison a string",
    outcome: "invalid",
    detail: /date_livraison/,
    spoil: (o) => void (o.date_livraison = "2025-10-16 12:30"),
  },
  {
    name: "date_commande a string",
    outcome: "invalid",
    detail: /date_commande/,
    spoil: (o) => void (o.date_commande = "16/10/2025"),
  },
  {
    name: "date_commande missing",
    outcome: "invalid",
    detail: /date_commande/,
    spoil: (o) => void delete o.date_commande,
  },
  {
    name: "an item's quantite a string",
    outcome: "invalid",
    detail: /quantite/,
    spoil: (o) => void (items(o)[0]!.quantite = "2"),
  },
  {
    name: "items a string",
    outcome: "invalid",
    detail: /items/,
    spoil: (o) => void (o.items = "1x Plat 0-0"),
  },
  {
    name: "items an object",
    outcome: "invalid",
    detail: /items/,
    spoil: (o) => void (o.items = { ...items(o)[0] }),
  },
  { name: "items null", outcome: "invalid", detail: /items/, spoil: (o) => void (o.items = null) },
  {
    name: "items missing",
    outcome: "invalid",
    detail: /items/,
    spoil: (o) => void delete o.items,
  },
  {
    name: "an item without menu_id",
    outcome: "invalid",
    detail: /menu_id|items/,
    spoil: (o) => void delete items(o)[1]!.menu_id,
  },
  {
    name: "numero_commande missing",
    outcome: "invalid",
    detail: /numero_commande/,
    spoil: (o) => void delete o.numero_commande,
  },
  {
    name: "numero_commande null",
    outcome: "invalid",
    detail: /numero_commande/,
    spoil: (o) => void (o.numero_commande = null),
  },
  {
    name: "numero_commande a number",
    outcome: "invalid",
    detail: /numero_commande/,
    spoil: (o) => void (o.numero_commande = 4242),
  },
  {
    name: 'numero_commande ""',
    outcome: "invalid",
    detail: /numero_commande/,
    spoil: (o) => void (o.numero_commande = ""),
  },
  {
    name: "client_id missing",
    outcome: "incomplete",
    detail: /client/,
    spoil: (o) => void delete o.client_id,
  },
  {
    // 20,000 lines of one valid dish: about 2 MB archived, under the 16 MB document limit.
    name: "20,000 items",
    outcome: ["archived", "error"],
    detail: /./,
    spoil: (o) => {
      const dish = items(o)[0]!.menu_id;
      o.items = Array.from({ length: 20_000 }, () => ({ menu_id: dish, quantite: 1 }));
    },
  },
];

const INVALID = MALFORMED.filter((row) => row.outcome === "invalid").length;

/** How the assertion and the quarantine know an order: its number, or its `_id` without one. */
function orderKey(order: Order): string {
  const number = order.numero_commande;
  return typeof number === "string" && number !== ""
    ? number
    : (order._id as ObjectId).toHexString();
}

interface Spoiled {
  row: Malformed;
  order: Order;
  key: string;
}

/**
 * Builds the malformed orders of the table from a good delivered order (references complete, as
 * tests/support/orders.ts builds them), with fresh ids and numbers `BAD-<n>`.
 */
function spoiledOrders(template: Order, rows: readonly Malformed[], first = 1): Spoiled[] {
  return rows.map((row, i) => {
    const order: Order = {
      ...template,
      _id: new ObjectId(),
      numero_commande: `BAD-${String(first + i).padStart(4, "0")}`,
      date_commande: new Date(Date.now() - 40 * 60_000),
      date_livraison: new Date(),
      items: items(template).map((item) => ({ ...item })),
    };
    row.spoil(order);
    return { row, order, key: orderKey(order) };
  });
}

interface Dataset {
  /** Good delivered orders already in the database. */
  good: string[];
  /** Orders not delivered yet, to deliver during a test. */
  pending: string[];
  /** A good delivered order to build bad ones from. */
  template: Order;
  courier: ObjectId;
}

async function goodOrders(db: Db, complete: number, notDelivered: number): Promise<Dataset> {
  const seeded = await seedOrders(db, { complete, incomplete: 0, notDelivered });
  // The source does not enforce unique numbers (orders without one must be insertable).
  await db.collection("Commande").dropIndex("numero_commande_1");
  return {
    good: [...seeded.complete],
    pending: [...seeded.notDelivered],
    template: seeded.orders.get(seeded.complete[0]!)!,
    courier: [...seeded.couriers.values()][0]!._id as ObjectId,
  };
}

function expectedReasons(spoiled: readonly Spoiled[]) {
  return Object.fromEntries(spoiled.map((s) => [s.key, s.row.outcome]));
}

/** Asserts each quarantined bad order's `detail` names the field at fault. */
async function assertDetails(db: Db, spoiled: readonly Spoiled[]): Promise<void> {
  const entries = new Map(
    (await db.collection("archiver_quarantine").find({}).toArray())
      .map((q) => [String(q._id), q]),
  );
  const wrong: string[] = [];
  for (const { row, order } of spoiled) {
    const entry = entries.get(String(order._id));
    if (!entry) continue; // the large order may be archived
    if (typeof entry.detail !== "string" || !row.detail.test(entry.detail)) {
      wrong.push(`${row.name}: detail ${JSON.stringify(entry.detail)} should name ${row.detail}`);
    }
    if (row.outcome !== "incomplete" && typeof row.outcome === "string") {
      const number = order.numero_commande;
      const want = typeof number === "string" && number !== "" ? number : null;
      if ((entry.numero_commande ?? null) !== want) {
        wrong.push(
          `${row.name}: quarantine numero_commande ${JSON.stringify(entry.numero_commande)}`,
        );
      }
    }
  }
  assert.deepEqual(wrong, [], wrong.join("\n"));
}

/** Waits until the invariant holds with the expected reasons, failing fast if the watcher died. */
async function untilSettled(
  db: Db,
  expected: Record<string, OrderOutcome | readonly OrderOutcome[]>,
  watcher: WatcherProcess,
  timeoutMs = 20_000,
) {
  const end = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  watcher.child.status.then((s) => (exitCode = s.code));
  while (true) {
    try {
      return await assertArchivedOrQuarantined(db, { expectedReasons: expected });
    } catch (error) {
      if (exitCode !== undefined) {
        throw new Error(
          `The watcher exited with code ${exitCode} before settling:\n${
            watcher.stderr().slice(-3_000)
          }`,
          { cause: error },
        );
      }
      if (Date.now() > end) {
        throw new Error(`Not settled after ${timeoutMs} ms:\n${watcher.stderr().slice(-3_000)}`, {
          cause: error,
        });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function quarantineAttempts(db: Db): Promise<Map<string, number>> {
  const entries = await db.collection("archiver_quarantine").find({}).toArray();
  return new Map(entries.map((q) => [String(q._id), Number(q.attempts)]));
}

Deno.test("batch archives every good delivered order and quarantines each malformed one with the field at fault", async (t) => {
  await using tdb = await testDatabase("data_batch");
  await using dir = await tempDir();
  const data = await goodOrders(tdb.db, 6, 2);
  const spoiled = spoiledOrders(data.template, MALFORMED);
  // Interleaved with the good ones in delivery order, so bad ones sit between good ones in a pass.
  await tdb.db.collection("Commande").insertMany(spoiled.map((s) => s.order));
  const expected = expectedReasons(spoiled);
  const run = () =>
    cli(batchArgs(tdb.uri, tdb.dbName, dir.path, "--json"), { plugins: [batch()], cwd: dir.path });

  let firstAttempts = new Map<string, number>();
  let firstReport: Record<string, number> = {};
  let archivedAfterFirst: string[] = [];
  await t.step("first run: exit 1, good orders archived, bad ones quarantined", async () => {
    const result = await run();
    assert.equal(result.code, 1, `exit 1 when an invalid order was quarantined:\n${result.stderr}`);
    const counts = await assertArchivedOrQuarantined(tdb.db, { expectedReasons: expected });
    assert.ok(counts.archived >= data.good.length, JSON.stringify(counts));
    await assertDetails(tdb.db, spoiled);
    const report = JSON.parse(result.stdout);
    assert.equal(report.orders_invalid, INVALID, result.stdout);
    assert.equal(report.orders_incomplete, 1, result.stdout);
    firstReport = report;
    firstAttempts = await quarantineAttempts(tdb.db);
    archivedAfterFirst = await archivedNumbers(tdb.db);
  });

  await t.step(
    "second run: changes nothing, counts them as still quarantined (not new), exit 1 still, attempts grow",
    async () => {
      const result = await run();
      assert.equal(result.code, 1, result.stderr);
      assert.deepEqual(await archivedNumbers(tdb.db), archivedAfterFirst);
      await assertArchivedOrQuarantined(tdb.db, { expectedReasons: expected });
      const report = JSON.parse(result.stdout);
      assert.equal(report.orders_archived, 0, result.stdout);
      // Each order counted once, when first seen: the first run's problems, not this one's.
      assert.equal(report.orders_invalid, 0, result.stdout);
      assert.equal(report.orders_incomplete, 0, result.stdout);
      const quarantined = firstReport.orders_incomplete! + firstReport.orders_invalid! +
        firstReport.orders_conflicts! + firstReport.orders_errors!;
      assert.equal(report.orders_still_quarantined, quarantined, result.stdout);
      assert.equal(report.orders_failed, firstReport.orders_failed, "still the operator's");
      assert.equal(report.exit_code, 1);
      const attempts = await quarantineAttempts(tdb.db);
      assert.ok(firstAttempts.size > 0, "something was quarantined");
      for (const [id, before] of firstAttempts) {
        assert.ok(
          (attempts.get(id) ?? 0) > before,
          `attempts of ${id}: ${before} → ${attempts.get(id)}`,
        );
      }
    },
  );
  reportFaults("malformed batch", MALFORMED.length * 2, (data.good.length + MALFORMED.length) * 2);
});

Deno.test("batch exits 0 when the only order set aside is incomplete", async () => {
  await using tdb = await testDatabase("data_batch_incomplete");
  await using dir = await tempDir();
  const data = await goodOrders(tdb.db, 4, 0);
  const rows = MALFORMED.filter((row) => row.outcome === "incomplete");
  const spoiled = spoiledOrders(data.template, rows);
  await tdb.db.collection("Commande").insertMany(spoiled.map((s) => s.order));
  const result = await cli(batchArgs(tdb.uri, tdb.dbName, dir.path, "--json"), {
    plugins: [batch()],
    cwd: dir.path,
  });
  assert.equal(result.code, 0, result.stderr);
  await assertArchivedOrQuarantined(tdb.db, { expectedReasons: expectedReasons(spoiled) });
  await assertDetails(tdb.db, spoiled);
  assert.equal(JSON.parse(result.stdout).orders_incomplete, 1);
});

Deno.test("watch catch-up over malformed orders: good ones archived, bad ones quarantined, idle, and a SIGTERM restart loses or doubles nothing", async (t) => {
  await using tdb = await testDatabase("data_watch_catch_up");
  await using dir = await tempDir();
  const data = await goodOrders(tdb.db, 6, 4);
  const spoiled = spoiledOrders(data.template, MALFORMED);
  await tdb.db.collection("Commande").insertMany(spoiled.map((s) => s.order));
  const expected = expectedReasons(spoiled);

  let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  try {
    await t.step("first start catches up: invariant holds, watcher up and idle", async () => {
      await untilSettled(tdb.db, expected, watcher);
      await assertDetails(tdb.db, spoiled);
      await watcher.waitFor(/✅ Change Stream opened successfully/);
      await assertIdleCpu(watcher.child, { what: "the watcher" });
    });

    await t.step("SIGTERM, deliveries while down, restart: nothing lost or doubled", async () => {
      const { code } = await watcher.stop("SIGTERM");
      assert.equal(code, 0, watcher.stderr());
      const late = spoiledOrders(data.template, [MALFORMED[0]!, MALFORMED[12]!], 100);
      await tdb.db.collection("Commande").insertMany(late.map((s) => s.order));
      for (const number of data.pending.slice(0, 2)) {
        await deliver(tdb.db, number, { courier: data.courier });
      }
      watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
      const all = { ...expected, ...expectedReasons(late) };
      await untilSettled(tdb.db, all, watcher);
      await watcher.waitFor(/✅ Change Stream opened successfully/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await assertArchivedOrQuarantined(tdb.db, { expectedReasons: all });
      await assertIdleCpu(watcher.child, { what: "the restarted watcher" });
      const stopped = await watcher.stop("SIGTERM");
      assert.equal(stopped.code, 0, watcher.stderr());
    });
  } finally {
    await watcher.stop("SIGKILL");
  }
  reportFaults("malformed watch catch-up", MALFORMED.length + 2, data.good.length + 21);
});

Deno.test("watch live: a malformed order delivered mid-stream is quarantined and the good order behind it is archived", async (t) => {
  await using tdb = await testDatabase("data_watch_live");
  await using dir = await tempDir();
  const data = await goodOrders(tdb.db, 3, MALFORMED.length + 2);
  const spoiled = spoiledOrders(data.template, MALFORMED);
  const orders = tdb.db.collection<Document>("Commande");
  const pending = [...data.pending];

  let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  try {
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    for (const [i, { row, order }] of spoiled.entries()) {
      await t.step(row.name, async () => {
        if (i % 2 === 0) {
          await orders.insertOne(order);
        } else {
          // Inserted on its way, then delivered by an update, as the lifecycle does.
          await orders.insertOne({ ...order, status: "en_livraison" });
          await orders.updateOne({ _id: order._id as ObjectId }, { $set: { status: "livrée" } });
        }
        const behind = pending.shift()!;
        await deliver(tdb.db, behind, { courier: data.courier });
        await eventually(
          async () => (await archivedNumbers(tdb.db)).includes(behind),
          5_000,
          `${behind}, delivered after the order with ${row.name}, archived (no stall):\n${
            watcher.stderr().slice(-2_000)
          }`,
        );
      });
    }
    const expected = expectedReasons(spoiled);
    await untilSettled(tdb.db, expected, watcher, 10_000);
    await assertDetails(tdb.db, spoiled);
    await assertIdleCpu(watcher.child, { what: "the watcher" });

    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
    const before = await archivedNumbers(tdb.db);
    watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(await archivedNumbers(tdb.db), before, "a restart archives nothing again");
    await assertArchivedOrQuarantined(tdb.db, { expectedReasons: expected });
    assert.equal((await watcher.stop("SIGTERM")).code, 0, watcher.stderr());
  } finally {
    await watcher.stop("SIGKILL");
  }
  reportFaults("malformed watch live", MALFORMED.length, 3 + MALFORMED.length * 2);
});
