/**
 * The resume-token file under abuse: damaged while the watcher was down with deliveries in the
 * gap, a token of another collection, a token file that cannot be written while the watcher runs,
 * and a write that fails midway (disk full, read-only file system) leaving the previous token
 * byte-identical.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db, Document } from "mongodb";
import { Timestamp } from "mongodb";
import { FileTokenStore, type SavedToken } from "../../core/stream/token_store.ts";
import { tempDir } from "../support/cli.ts";
import { archivedNumbers, assertEachOnce, deliver, reportFaults } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher } from "../support/watcher.ts";

const TOKEN = ".resume_token.json";

async function tokenOfAnotherCollection(db: Db): Promise<Document> {
  const other = db.collection("Autre");
  const stream = other.watch([], { maxAwaitTimeMS: 100 });
  try {
    await stream.tryNext();
    await other.insertOne({ n: 1 });
    return (await stream.next())._id as Document;
  } finally {
    await stream.close();
  }
}

type Damage = (saved: string, db: Db) => Promise<string>;

const DAMAGES: Array<[string, Damage, RegExp]> = [
  ["emptied", () => Promise.resolve(""), /⚠️ Could not load resume token/],
  [
    "truncated mid-write",
    (saved) => Promise.resolve(saved.slice(0, Math.floor(saved.length / 2))),
    /⚠️ Could not load resume token/,
  ],
  [
    "overwritten with garbage",
    () => Promise.resolve("\u0000\u00ff garbage \u0007"),
    /⚠️ Could not load resume token/,
  ],
  [
    "valid JSON of another shape",
    () => Promise.resolve('{"token":"8263","saved_at":1}'),
    /⚠️ Could not load resume token/,
  ],
  [
    "a real token of another collection, labelled as such",
    async (saved, db) =>
      JSON.stringify({
        ...JSON.parse(saved),
        token: await tokenOfAnotherCollection(db),
        namespace: `${db.databaseName}.Autre`,
      }),
    /⚠️ Could not load resume token: .* belongs to .*\.Autre/,
  ],
];

Deno.test("the token file damaged while the watcher was down, deliveries in the gap: nothing lost or doubled", async (t) => {
  let injected = 0;
  let checked = 0;
  for (const [name, damage, warning] of DAMAGES) {
    await t.step(name, async () => {
      await using tdb = await testDatabase("fault_token");
      await using dir = await tempDir();
      const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 1, notDelivered: 12 });
      const courier = [...seeded.couriers.values()][0]!._id;
      const numbers = seeded.notDelivered;
      let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
      await watcher.waitFor(/✅ Change Stream opened successfully/);
      for (const number of numbers.slice(0, 3)) await deliver(tdb.db, number, { courier });
      await eventually(async () => (await archivedNumbers(tdb.db)).length >= 5, 10_000, "5");
      await watcher.waitFor(/✅ Archived \d+ orders? in the last/);
      assert.equal((await watcher.stop("SIGTERM")).code, 0, watcher.stderr());

      for (const number of numbers.slice(3, 8)) await deliver(tdb.db, number, { courier });
      await deliver(tdb.db, numbers[8]!, { courier, dangling: true });
      const path = join(dir.path, TOKEN);
      const saved = await Deno.readTextFile(path);
      await Deno.writeTextFile(path, await damage(saved, tdb.db));
      injected++;

      watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
      try {
        await watcher.waitFor(/✅ Change Stream opened successfully/, 20_000);
        for (const number of numbers.slice(9)) await deliver(tdb.db, number, { courier });
        const expected = [...seeded.complete, ...numbers.slice(0, 8), ...numbers.slice(9)];
        await eventually(
          async () => (await archivedNumbers(tdb.db)).length >= expected.length,
          15_000,
          `${expected.length} archived`,
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        assertEachOnce(await archivedNumbers(tdb.db), expected);
        checked += expected.length + 2;
        const { code } = await watcher.stop("SIGTERM");
        assert.equal(code, 0, watcher.stderr());
        const lines = watcher.stderr().split("\n").filter((l) => warning.test(l));
        assert.equal(lines.length, 1, watcher.stderr());
        // The next clean stop left a usable token again.
        assert.equal(JSON.parse(await Deno.readTextFile(path)).namespace, `${tdb.dbName}.Commande`);
      } finally {
        await watcher.stop("SIGKILL");
      }
    });
  }
  reportFaults("token damaged", injected, checked);
});

Deno.test("a token file that cannot be written: watch keeps archiving, reports it once, saves again when it can", async () => {
  await using tdb = await testDatabase("fault_token_unwritable");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 1, incomplete: 0, notDelivered: 20 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const numbers = seeded.notDelivered;
  const state = join(dir.path, "state");
  await Deno.mkdir(state);
  const args = ["--token-file", "state/token.json", "--status-file", "status.json"];
  let watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, args);
  try {
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    await deliver(tdb.db, numbers[0]!, { courier });
    await watcher.waitFor(/✅ Archived 1 order in the last/);
    const before = await Deno.readFile(join(state, "token.json"));

    // A file where the token's folder should be: root cannot write there either (ENOTDIR).
    await Deno.rename(state, `${state}.away`);
    await Deno.writeTextFile(state, "in the way");
    for (const number of numbers.slice(1, 11)) {
      await deliver(tdb.db, number, { courier });
      await new Promise((resolve) => setTimeout(resolve, 60)); // several micro-batches
    }
    await eventually(async () => (await archivedNumbers(tdb.db)).length >= 12, 10_000, "12");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(watcher.child.pid > 0 && (await _alive(watcher.child)), true, watcher.stderr());
    const failures = watcher.stderr().split("\n").filter((l) =>
      /❌ Could not save resume token/.test(l)
    );
    assert.equal(failures.length, 1, `reported once, not per batch:\n${watcher.stderr()}`);
    assert.deepEqual(
      await Deno.readFile(join(`${state}.away`, "token.json")),
      before,
      "the previous token is intact",
    );

    await Deno.remove(state);
    await Deno.rename(`${state}.away`, state);
    await deliver(tdb.db, numbers[11]!, { courier });
    await watcher.waitFor(/Resume token saved again/);
    assert.notDeepEqual(await Deno.readFile(join(state, "token.json")), before);
    await watcher.stop("SIGKILL");

    // The saved token is the newest: a restart archives the rest once.
    for (const number of numbers.slice(12)) await deliver(tdb.db, number, { courier });
    watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, args);
    await watcher.waitFor(/Resuming after the token saved at/);
    await eventually(async () => (await archivedNumbers(tdb.db)).length >= 21, 10_000, "21");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertEachOnce(await archivedNumbers(tdb.db), [...seeded.complete, ...numbers]);
    assert.equal((await watcher.stop("SIGTERM")).code, 0, watcher.stderr());
  } finally {
    await watcher.stop("SIGKILL");
  }
  reportFaults("token unwritable", 1, 21);
});

async function _alive(child: Deno.ChildProcess): Promise<boolean> {
  const exited = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 50)),
  ]);
  return !exited;
}

function _token(data: string, second: number): SavedToken {
  return {
    token: { _data: data },
    clusterTime: new Timestamp({ t: second, i: 1 }),
    savedAt: new Date(second * 1000),
    namespace: "food_delivery.Commande",
  };
}

async function _mountTmpfs(path: string, options: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", options, "tmpfs", path],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function _run(command: string, ...args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
    .output();
  return success;
}

Deno.test("a failed token write leaves the previous token byte-identical", async (t) => {
  await using dir = await tempDir();
  let injected = 0;

  await t.step("its folder replaced by a file (the temp file cannot be created)", async () => {
    const folder = join(dir.path, "state");
    await Deno.mkdir(folder);
    const store = new FileTokenStore(join(folder, "token.json"));
    await store.save(_token("82AA", 1_700_000_000));
    const before = await Deno.readFile(join(folder, "token.json"));
    await Deno.rename(folder, `${folder}.away`);
    await Deno.writeTextFile(folder, "");
    await assert.rejects(store.save(_token("82BB", 1_700_000_100)));
    await Deno.remove(folder);
    await Deno.rename(`${folder}.away`, folder);
    assert.deepEqual(await Deno.readFile(join(folder, "token.json")), before);
    assert.deepEqual([...Deno.readDirSync(folder)].map((e) => e.name), ["token.json"]);
    injected++;
  });

  const mountPoint = join(dir.path, "tiny");
  await Deno.mkdir(mountPoint);
  const mounted = Deno.build.os === "linux" && await _mountTmpfs(mountPoint, "size=64k");
  if (!mounted) {
    console.error(
      "[faults] token write: cannot mount a tmpfs here (not root?): disk-full cases skipped",
    );
  }
  try {
    await t.step({
      name: "disk full midway through the write (ENOSPC on a 64 KiB tmpfs)",
      ignore: !mounted,
      async fn() {
        const path = join(mountPoint, "token.json");
        const store = new FileTokenStore(path);
        await store.save(_token("82CC", 1_700_000_000));
        const before = await Deno.readFile(path);
        // Fill the file system, leaving a few bytes: the new token starts being written, then fails.
        const filler = await Deno.open(join(mountPoint, "filler"), { write: true, create: true });
        try {
          const block = new Uint8Array(1024);
          while (true) {
            try {
              await filler.write(block);
            } catch {
              break;
            }
          }
        } finally {
          filler.close();
        }
        const large = "82" + "AB".repeat(40_000);
        await assert.rejects(store.save(_token(large, 1_700_000_200)), (error: Error) => {
          assert.match(String(error), /No space left|ENOSPC|os error 28/i);
          return true;
        });
        assert.deepEqual(await Deno.readFile(path), before);
        assert.equal((await store.load())?.token._data, "82CC");
        const names = [...Deno.readDirSync(mountPoint)].map((e) => e.name).sort();
        assert.deepEqual(names, ["filler", "token.json"], "no temp file left behind");
        injected++;
      },
    });

    await t.step({
      name: "a read-only file system (EROFS)",
      ignore: !mounted,
      async fn() {
        await Deno.remove(join(mountPoint, "filler"));
        const path = join(mountPoint, "token.json");
        const before = await Deno.readFile(path);
        assert.ok(await _run("mount", "-o", "remount,ro", mountPoint), "remount read-only");
        try {
          await assert.rejects(new FileTokenStore(path).save(_token("82DD", 1_700_000_300)));
        } finally {
          await _run("mount", "-o", "remount,rw", mountPoint);
        }
        assert.deepEqual(await Deno.readFile(path), before);
        injected++;
      },
    });
  } finally {
    if (mounted) await _run("umount", mountPoint);
  }
  reportFaults("token write", injected, 0);
});
