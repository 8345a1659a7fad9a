import assert from "node:assert/strict";
import { BSON, ObjectId } from "mongodb";
import type { Db } from "mongodb";
import { join } from "node:path";
import type { Order } from "../../../core/archive/model.ts";
import { simulate } from "../../../plugins/simulate/mod.ts";
import type { DatasetSummary, LiveSummary } from "../../../plugins/simulate/summary.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { assertSnapshot } from "../../support/snapshot.ts";
import { testDatabase } from "../../support/test_db.ts";

const plugins = [simulate()];
const NOW = "2025-10-16T12:00:00Z";

/** Runs `archiver --uri … --db … --log-dir … <args>` against a test database. */
async function run(
  t: { uri: string; dbName: string },
  logDir: string,
  args: string[],
  env: Record<string, string> = {},
) {
  return await cli(["--uri", t.uri, "--db", t.dbName, "--log-dir", logDir, ...args], {
    plugins,
    cwd: logDir,
    env,
  });
}

async function collections(db: Db): Promise<string[]> {
  return (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
}

async function ids(db: Db, name: string): Promise<Set<string>> {
  const documents = await db.collection(name).find({}, { projection: { _id: 1 } }).toArray();
  return new Set(documents.map((doc) => String(doc._id)));
}

Deno.test("simulate writes the same dataset twice from one seed", async () => {
  await using dir = await tempDir();
  await using first = await testDatabase("simulate");
  await using second = await testDatabase("simulate");
  const args = ["simulate", "--count", "1500", "--seed", "42", "--now", NOW, "--json"];
  for (const t of [first, second]) {
    const { code, stderr } = await run(t, dir.path, args);
    assert.equal(code, 0, stderr);
  }
  const dump = async (db: Db) => ({
    orders: await db.collection("Commande").find({}).sort({ numero_commande: 1 }).toArray(),
    clients: await db.collection("Client").find({}).sort({ _id: 1 }).toArray(),
    couriers: await db.collection("Livreur").find({}).sort({ _id: 1 }).toArray(),
    restaurants: await db.collection("Restaurants").find({}).sort({ _id: 1 }).toArray(),
    menu: await db.collection("Menu").find({}).sort({ _id: 1 }).toArray(),
  });
  const a = await dump(first.db);
  const b = await dump(second.db);
  assert.equal(a.orders.length, 1500);
  assert.equal(a.orders[0]!.numero_commande, "CMD-000001");
  assert.deepEqual(b, a);
});

Deno.test("simulate delivers --p-delivered and breaks --p-incomplete of 10,000 orders", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const { code, stdout, stderr } = await run(t, dir.path, [
    "simulate",
    "--count",
    "10000",
    "--seed",
    "7",
    "--p-delivered",
    "0.4",
    "--p-incomplete",
    "0.05",
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as DatasetSummary;
  const orders = await t.db.collection<Order>("Commande").find({}).toArray();
  assert.equal(orders.length, 10_000);
  const delivered = orders.filter((order) => order.status === "livrée").length;
  assert.ok(Math.abs(delivered / 10_000 - 0.4) <= 0.02, `${delivered} delivered`);
  assert.equal(summary.statuses["livrée"], delivered);

  const clients = await ids(t.db, "Client");
  const couriers = await ids(t.db, "Livreur");
  const restaurants = await ids(t.db, "Restaurants");
  const menu = await ids(t.db, "Menu");
  let incomplete = 0;
  for (const order of orders) {
    const missing = [
      !clients.has(String(order.client_id)),
      !restaurants.has(String(order.restaurant_id)),
      order.livreur_id !== null && !couriers.has(String(order.livreur_id)),
      ...order.items.map((item) => !menu.has(String(item.menu_id))),
    ].filter(Boolean).length;
    assert.ok(missing <= 1, `${order.numero_commande} has ${missing} missing references`);
    incomplete += missing;
  }
  assert.equal(incomplete, summary.incomplete, "every reference is valid except the injected ones");
  assert.ok(Math.abs(incomplete / 10_000 - 0.05) <= 0.02, `${incomplete} incomplete`);
});

Deno.test("simulate appends after the highest order number without collisions", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  await t.db.collection("Commande").insertOne({ numero_commande: "CMD-000999", status: "livrée" });
  for (const count of ["500", "700"]) {
    const { code, stderr } = await run(t, dir.path, ["simulate", "--count", count, "--seed", "1"]);
    assert.equal(code, 0, stderr);
  }
  const numbers = (await t.db.collection("Commande").find({}).toArray())
    .map((order) => order.numero_commande as string);
  assert.equal(numbers.length, 1 + 500 + 700);
  assert.equal(new Set(numbers).size, numbers.length);
  assert.ok(numbers.includes("CMD-001000"));
  assert.ok(numbers.includes("CMD-002199"));
  assert.equal(await t.db.collection("Client").countDocuments(), 50 + 70);

  const indexes = await t.db.collection("Commande").indexes();
  const unique = indexes.find((index) => index.key.numero_commande === 1);
  assert.equal(unique?.unique, true, "numero_commande is unique");
  assert.ok(indexes.some((index) => index.key.status === 1 && index.key.date_livraison === 1));
});

Deno.test("simulate --drop asks for --yes and never touches the archive without --drop-archive", async (s) => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const seed = await run(t, dir.path, ["simulate", "--count", "300", "--seed", "3"]);
  assert.equal(seed.code, 0, seed.stderr);
  await t.db.collection("Historique").insertOne({ numero_commande: "CMD-000001" });

  await s.step("without --yes and without a terminal it refuses, dropping nothing", async () => {
    const { code, stderr } = await run(t, dir.path, ["simulate", "--drop", "--count", "10"]);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /Refusing to drop Commande, Client, Livreur, Restaurants, Menu in database .*: pass --yes/,
    );
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.equal(await t.db.collection("Commande").countDocuments(), 300);
  });

  await s.step("--drop-archive alone is refused", async () => {
    const { code } = await run(t, dir.path, ["simulate", "--drop-archive", "--yes"]);
    assert.equal(code, 2);
    assert.equal(await t.db.collection("Historique").countDocuments(), 1);
  });

  await s.step("--drop --yes empties the simulated collections, keeping the archive", async () => {
    const { code, stdout, stderr } = await run(t, dir.path, [
      "simulate",
      "--drop",
      "--yes",
      "--count",
      "10",
      "--json",
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual((JSON.parse(stdout) as DatasetSummary).dropped, [
      "Commande",
      "Client",
      "Livreur",
      "Restaurants",
      "Menu",
    ]);
    assert.equal(await t.db.collection("Commande").countDocuments(), 10);
    assert.equal(await t.db.collection("Client").countDocuments(), 20);
    assert.equal(
      (await t.db.collection("Commande").findOne({}, { sort: { numero_commande: 1 } }))
        ?.numero_commande,
      "CMD-000001",
      "numbering starts over",
    );
    assert.equal(await t.db.collection("Historique").countDocuments(), 1);
  });

  await s.step("--drop --drop-archive --yes empties the archive too", async () => {
    const { code, stderr } = await run(t, dir.path, [
      "simulate",
      "--drop",
      "--drop-archive",
      "--yes",
      "--count",
      "10",
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(await t.db.collection("Historique").countDocuments(), 0);
    assert.equal(await t.db.collection("Commande").countDocuments(), 10);
  });
});

Deno.test("simulate --export writes a sample of the orders in Extended JSON", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const { code, stderr } = await run(t, dir.path, [
    "simulate",
    "--count",
    "2500",
    "--seed",
    "9",
    "--export",
    "sample.json",
  ]);
  assert.equal(code, 0, stderr);
  const sample = BSON.EJSON.parse(
    await Deno.readTextFile(join(dir.path, "sample.json")),
  ) as Order[];
  assert.equal(sample.length, 1000);
  assert.ok(sample[0]!._id instanceof ObjectId);
  assert.ok(sample[0]!.date_commande instanceof Date);
  const stored = await t.db.collection<Order>("Commande").findOne({ _id: sample[0]!._id });
  assert.deepEqual(stored, sample[0]);
});

Deno.test("simulate prints a summary table of collections and statuses", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const { code, stdout, stderr } = await run(t, dir.path, ["simulate", "--count", "100"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Commande\s+100$/m);
  assert.match(stdout, /^Client\s+20$/m);
  assert.match(stdout, /^livrée\s+\d+$/m);
  assert.match(stdout, /orders\/s/);
  assert.match(stdout, /\(seed \d+\)/, "a random seed is printed so the run can be reproduced");
  assert.match(stderr, /✅ Simulated 100 orders/);
  assert.match(await Deno.readTextFile(join(dir.path, "simulate.jsonl")), /Simulated 100 orders/);
});

Deno.test("simulate --live changes orders at --rate within 20 % over 10 s", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const seed = await run(t, dir.path, ["simulate", "--count", "200", "--seed", "4"]);
  assert.equal(seed.code, 0, seed.stderr);
  const before = await t.db.collection("Commande").countDocuments();
  const { code, stdout, stderr } = await run(t, dir.path, [
    "simulate",
    "--live",
    "--rate",
    "20",
    "--duration",
    "10s",
    "--seed",
    "4",
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as LiveSummary;
  assert.ok(summary.changes >= 160 && summary.changes <= 240, `${summary.changes} changes`);
  const orders = await t.db.collection<Order>("Commande").find({}).toArray();
  assert.equal(orders.length, before + summary.created);
  const numbers = new Set(orders.map((order) => order.numero_commande));
  assert.equal(numbers.size, orders.length, "created orders continue the numbering");
  const delivered = orders.filter((order) => order.status === "livrée");
  assert.ok(delivered.every((order) => order.livreur_id && order.date_livraison));
  assert.ok(
    delivered.every((order) => order.date_livraison!.getTime() > order.date_commande.getTime()),
  );
  assert.ok(summary.statuses["livrée"]! > 0, "some orders were delivered live");
});

Deno.test("simulate --live creates reference data in an empty database", async () => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const { code, stdout, stderr } = await run(t, dir.path, [
    "simulate",
    "--live",
    "--rate",
    "50",
    "--duration",
    "1s",
    "--json",
  ]);
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout) as LiveSummary;
  assert.ok(summary.created > 0);
  assert.equal(await t.db.collection("Commande").countDocuments(), summary.created);
  assert.equal(await t.db.collection("Client").countDocuments(), 50);
  assert.match(stderr, /No reference data yet/);
});

Deno.test("simulate stops bad input with one line and exit 2, writing nothing", async (s) => {
  await using dir = await tempDir();
  await using t = await testDatabase("simulate");
  const cases: Array<[string, string[], RegExp]> = [
    ["negative count", ["--count", "-5"], /Invalid --count "-5": expected a non-negative integer/],
    ["non-numeric count", ["--count", "many"], /Invalid --count "many"/],
    [
      "probability above 1",
      ["--p-delivered", "1.5"],
      /Invalid --p-delivered "1.5": expected a number from 0 to 1/,
    ],
    [
      "negative probability",
      ["--p-incomplete", "-0.1"],
      /Invalid --p-incomplete "-0.1": expected a number from 0 to 1/,
    ],
    [
      "unknown duration unit",
      ["--live", "--duration", "10y"],
      /Invalid --duration "10y": expected a duration/,
    ],
    [
      "bad client count",
      ["--clients", "0"],
      /Invalid --clients "0": expected a positive integer or auto/,
    ],
    ["bad --now", ["--now", "yesterday-ish"], /Invalid --now "yesterday-ish"/],
    [
      "missing export folder",
      ["--export", "nowhere/sample.json"],
      /Cannot write --export "nowhere\/sample.json"/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await s.step(name, async () => {
      const { code, stdout, stderr } = await run(t, dir.path, ["simulate", ...args]);
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(stderr, message);
    });
  }
  await s.step("a bad value from the environment", async () => {
    const { code, stderr } = await run(t, dir.path, ["simulate"], {
      ARCHIVER_SIMULATE_P_DELIVERED: "2",
    });
    assert.equal(code, 2);
    assert.match(stderr, /Invalid ARCHIVER_SIMULATE_P_DELIVERED "2" in the environment/);
  });
  assert.deepEqual(await collections(t.db), [], "nothing was written");
});

Deno.test("simulate against an unreachable server ends with exit 3 and writes nothing", async () => {
  await using dir = await tempDir();
  const { code, stdout, stderr } = await cli(
    ["--uri", "mongodb://127.0.0.1:9/", "--log-dir", dir.path, "simulate", "--count", "10"],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "300ms" } },
  );
  assert.equal(code, 3);
  assert.equal(stdout, "");
  assert.match(stderr, /Failed to connect to MongoDB at mongodb:\/\/127\.0\.0\.1:9/);
});

Deno.test("archiver simulate --help", async () => {
  const { stdout } = await cli(["simulate", "--help"], { plugins });
  await assertSnapshot("simulate_help", stdout);
});
