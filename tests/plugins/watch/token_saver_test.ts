import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { dedicatedSandbox, testDatabase } from "../../support/test_db.ts";
import { archivedNumbers, assertEachOnce, deliver } from "../../support/faults.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

const lines = (text: string, pattern: RegExp) => text.split("\n").filter((l) => pattern.test(l));

Deno.test("an idle watcher saves its token with the cluster time it follows", async () => {
  await using tdb = await testDatabase("watch_idle_time");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: 1 });
  const startedAt = Math.floor(Date.now() / 1000);
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [], {
    env: { ARCHIVER_WATCH_IDLE_TOKEN_SAVE_MS: "300" },
  });
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  const path = join(dir.path, ".resume_token.json");
  await eventually(
    async () => {
      try {
        return JSON.parse(await Deno.readTextFile(path)).cluster_time !== null;
      } catch {
        return false;
      }
    },
    5_000,
    "an idle token saved with its cluster time",
  );
  await watcher.stop();
  const saved = JSON.parse(await Deno.readTextFile(path));
  assert.ok(saved.cluster_time.t >= startedAt - 60, JSON.stringify(saved));
  assert.ok(saved.cluster_time.t <= Math.ceil(Date.now() / 1000) + 1, JSON.stringify(saved));
});

Deno.test("a saved token ahead of the server's cluster time is reported once and caught up over", async () => {
  await using tdb = await testDatabase("watch_future_token");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 0, notDelivered: 1 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const t = Math.floor(Date.now() / 1000) + 86_400;
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  await Deno.writeTextFile(
    join(dir.path, ".resume_token.json"),
    JSON.stringify({
      token: { _data: `82${hex(t)}${hex(1)}0104` },
      cluster_time: { t, i: 1 },
      saved_at: new Date().toISOString(),
      namespace: `${tdb.dbName}.Commande`,
    }),
  );
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  await deliver(tdb.db, seeded.notDelivered[0]!, { courier });
  await eventually(async () => (await archivedNumbers(tdb.db)).length >= 3, 5_000, "3 archived");
  await watcher.stop();
  assertEachOnce(await archivedNumbers(tdb.db), [...seeded.complete, seeded.notDelivered[0]!]);
  assert.equal(lines(watcher.stderr(), /WARN.*ahead of the server/).length, 1, watcher.stderr());
});

Deno.test("after a lost token, with token saves failing, a stream error resumes from the watcher's own position: one catch-up", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 60 });
  if (!sandbox) return; // A real server's oplog cannot be shrunk from a test.
  await using dir = await tempDir();
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  const admin = client.db("admin");
  try {
    const db = client.db("watch_position");
    const seeded = await seedOrders(db, { complete: 0, incomplete: 0, notDelivered: 30 });
    const courier = [...seeded.couriers.values()][0]!._id;
    const numbers = seeded.notDelivered;
    const args = ["--token-store", "mongo"];
    const first = startWatcher(sandbox.uri, "watch_position", dir.path, args);
    await first.waitFor(/✅ Change Stream opened successfully/);
    await deliver(db, numbers[0]!, { courier });
    await first.waitFor(/✅ Archived 1 order in the last/);
    assert.equal((await first.stop()).code, 0);
    // Far more writes than the oplog keeps: the saved token falls out of it.
    for (const number of numbers.slice(1, 25)) await deliver(db, number, { courier });
    for (let i = 0; i < 50; i++) {
      await db.collection("Commande").updateOne({ numero_commande: numbers[29] }, {
        $set: { note: i },
      });
    }
    // Token saves fail from now on (the store refuses its writes).
    await admin.command({
      configureFailPoint: "failCommand",
      mode: "alwaysOn",
      data: {
        failCommands: ["update"],
        errorCode: 2,
        namespace: "watch_position.archiver_resume_tokens",
      },
    });
    await using second = startWatcher(sandbox.uri, "watch_position", dir.path, args);
    await second.waitFor(/✅ Change Stream opened successfully/);
    await deliver(db, numbers[25]!, { courier });
    await eventually(async () => (await archivedNumbers(db)).length >= 26, 10_000, "26 archived");
    await second.waitFor(/❌ Could not save resume token/);
    // A stream error the driver cannot resume from by itself.
    await admin.command({
      configureFailPoint: "failCommand",
      mode: { times: 3 },
      data: { failCommands: ["getMore", "aggregate"], closeConnection: true },
    });
    for (const number of numbers.slice(26)) await deliver(db, number, { courier });
    await eventually(async () => (await archivedNumbers(db)).length >= 30, 15_000, "30 archived");
    await second.stop();
    assertEachOnce(await archivedNumbers(db), numbers);
    const stderr = second.stderr();
    assert.match(stderr, /❌ Change Stream error/);
    assert.equal(lines(stderr, /Could not resume the change stream/).length, 1, stderr);
    assert.equal(lines(stderr, /Archived \d+ orders? \(catch-up\)/).length, 1, stderr);
  } finally {
    await admin.command({ configureFailPoint: "failCommand", mode: "off" }).catch(() => {});
    await client.close();
  }
});

Deno.test("resumeTokenTime() reads the cluster time at the head of a resume token's KeyString", async (t) => {
  const { resumeTokenTime } = await import("../../../plugins/watch/token_saver.ts");
  const cases: Array<[string, unknown, { t: number; i: number } | null]> = [
    [
      "a server's event token",
      {
        _data:
          "82612E8513000000012B022C0100296E5A1004A5093ABB38FE4B9EA67F01BB1A96D812463C5F6964003C5F5F5F78000004",
      },
      { t: 1630438675, i: 1 },
    ],
    ["a high-water mark", { _data: "8269A1B2C3000000070104" }, { t: 0x69a1b2c3, i: 7 }],
    ["not a timestamp type byte", { _data: "4669A1B2C3000000070104" }, null],
    ["too short", { _data: "8269A1" }, null],
    ["no _data", { other: 1 }, null],
    ["binary _data (4.0 form)", { _data: new Uint8Array([0x82]) }, null],
    ["nothing", undefined, null],
  ];
  for (const [name, token, expected] of cases) {
    await t.step(name, () => {
      const time = resumeTokenTime(token as import("mongodb").Document | undefined);
      assert.deepEqual(
        time ? { t: time.getHighBitsUnsigned(), i: time.getLowBitsUnsigned() } : null,
        expected,
      );
    });
  }
});

Deno.test("TokenSaver keeps its position in memory when saves fail, and resumes from it", async () => {
  const { TokenSaver } = await import("../../../plugins/watch/token_saver.ts");
  const { WatchFigures } = await import("../../../plugins/watch/figures.ts");
  const { FileTokenStore } = await import("../../../core/stream/token_store.ts");
  const { createWatchMetrics } = await import("../../../core/stream/metrics.ts");
  const { getLogger } = await import("@logtape/logtape");
  const { Timestamp } = await import("mongodb");
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "blocker"), "a file where the token folder should be");
  const prom = createWatchMetrics({ processMetrics: false });
  const figures = new WatchFigures(prom);
  const saver = new TokenSaver(new FileTokenStore(join(dir.path, "blocker", "token.json")), {
    namespace: "shop.Commande",
    log: getLogger(["test"]),
    figures,
    prom,
    idleSaveMs: 60_000,
    signal: () => new AbortController().signal,
  });
  assert.equal(saver.resumePlan(), undefined, "no position before anything");
  const catchUpTime = new Timestamp({ t: 1_700_000_000, i: 3 });
  saver.caughtUpFrom(catchUpTime);
  assert.deepEqual(saver.resumePlan(), { kind: "from-time", time: catchUpTime });
  const token = { _data: "826553F1000000000A0104" };
  await saver.acknowledge(token, null);
  assert.equal(saver.saved, undefined, "the save failed");
  assert.equal(figures.metrics.token_save_errors, 1);
  assert.deepEqual(saver.resumePlan(), { kind: "resume", token });
  const position = saver.position;
  assert.equal(
    position?.kind === "token" && position.clusterTime?.getHighBitsUnsigned(),
    0x6553f100,
  );
  saver.forget();
  assert.equal(saver.resumePlan(), undefined);
});
