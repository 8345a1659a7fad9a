/**
 * `watch --ha`: two real watcher processes share one lease on the sandbox while orders keep being
 * delivered. kill -9 of the active one, SIGSTOP of it past its lease then SIGCONT, and a wiped
 * lease collection: the other takes over within the lease time, each delivered order is archived
 * exactly once, and the stored token's epoch never goes down (no save under a lost lease). The
 * lease is shortened for the test (hidden `ARCHIVER_LEASE_TTL_MS` / `ARCHIVER_LEASE_RENEW_MS`).
 * Clocks that lie: the two processes run 10 minutes apart (libfaketime, Debian's `faketime`,
 * preloaded into each; skipped, saying so, where it is not installed), and the lease still
 * changes hands only when it ran out by the server's clock.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db } from "mongodb";
import { tempDir } from "../support/cli.ts";
import { assertArchivedOrQuarantined, assertEachOnce, deliver } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher, type WatcherProcess } from "../support/watcher.ts";
import { freePort } from "../support/ports.ts";

const TTL_MS = 3_000;
const RENEW_MS = 1_000;
const ENV = {
  ARCHIVER_LEASE_TTL_MS: String(TTL_MS),
  ARCHIVER_LEASE_RENEW_MS: String(RENEW_MS),
};
// How long two watcher processes may take to start and one to take the lease: generous, as other
// test files run beside this one on two cores.
const STARTUP_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface _Pair {
  watchers: WatcherProcess[];
  dirs: string[];
  ports: number[];
}

async function _probe(port: number, path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

function _hasFaketime(): boolean {
  try {
    return Deno.statSync(LIBFAKETIME).isFile;
  } catch {
    return false;
  }
}

/** The environment that makes a process's clock run `offset` (`+10m`, `-10m`) from the host's. */
function _clockOffset(offset: string): Record<string, string> {
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

function _startWatcherAt(
  uri: string,
  db: string,
  dir: string,
  port: number,
  env: Record<string, string> = {},
): WatcherProcess {
  const args = ["--ha", "--token-store", "mongo", "--batch-max", "20"];
  return startWatcher(uri, db, dir, [...args, "--metrics-port", String(port)], {
    env: { ...ENV, ...env },
  });
}

async function _startPair(
  uri: string,
  db: string,
  root: string,
  envs: Array<Record<string, string>> = [{}, {}],
): Promise<_Pair> {
  const dirs = [join(root, "a"), join(root, "b")];
  const watchers: WatcherProcess[] = [];
  const ports = dirs.map(() => freePort());
  for (const [i, dir] of dirs.entries()) {
    await Deno.mkdir(dir, { recursive: true });
    watchers.push(_startWatcherAt(uri, db, dir, ports[i]!, envs[i]));
  }
  return { watchers, dirs, ports };
}

async function _lease(db: Db): Promise<{ holder: string; epoch: number } | undefined> {
  const lease = await db.collection("archiver_leases").findOne({
    _id: `${db.databaseName}.Commande` as never,
  });
  return lease ? { holder: lease.holder, epoch: lease.epoch } : undefined;
}

async function _tokenEpoch(db: Db): Promise<number> {
  const doc = await db.collection("archiver_resume_tokens").findOne({});
  return typeof doc?.epoch === "number" ? doc.epoch : 0;
}

/** Which watcher holds a valid lease now, by the pid in the holder name. */
async function _active(db: Db, pair: _Pair): Promise<number | undefined> {
  const lease = await db.collection("archiver_leases").aggregate([
    { $match: { $expr: { $gt: ["$expires_at", "$$NOW"] } } },
  ]).toArray();
  const holder = String(lease[0]?.holder ?? "");
  const index = pair.watchers.findIndex((w) => holder.split(":")[1] === String(w.pid));
  return index === -1 ? undefined : index;
}

async function _role(dir: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "archiver-status.json"))).role;
  } catch {
    return undefined;
  }
}

/** Delivers orders one by one until stopped; returns what it delivered. */
function _producer(db: Db, pending: string[], courier: unknown) {
  const delivered: string[] = [];
  let producing = true;
  const done = (async () => {
    while (producing && pending.length > 0) {
      const number = pending.shift()!;
      await deliver(db, number, { courier });
      delivered.push(number);
      await sleep(40);
    }
  })();
  return {
    delivered,
    async stop() {
      producing = false;
      await done;
    },
  };
}

/** Samples the stored token's epoch and fails if it ever goes down. */
function _epochWatch(db: Db) {
  let last = 0;
  let down: string | undefined;
  let running = true;
  const done = (async () => {
    while (running) {
      const epoch = await _tokenEpoch(db);
      if (epoch < last) down ??= `the token's epoch went from ${last} down to ${epoch}`;
      last = Math.max(last, epoch);
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      assert.equal(down, undefined, down ?? "");
      return last;
    },
  };
}

async function _allArchived(db: Db, delivered: string[]) {
  await eventually(
    async () => {
      const archived = new Set(
        (await db.collection("Historique").find({}, { projection: { numero_commande: 1 } })
          .toArray()).map((d) => d.numero_commande),
      );
      return delivered.every((n) => archived.has(n));
    },
    20_000,
    `${delivered.length} orders archived`,
  );
  await sleep(300);
}

async function _setup(name: string) {
  const tdb = await testDatabase(name);
  const seeded = await seedOrders(tdb.db, { complete: 3, notDelivered: 400 });
  const courier = [...seeded.couriers.values()][0]!._id;
  return { tdb, seeded, courier, pending: [...seeded.notDelivered] };
}

Deno.test("watch --ha: kill -9 of the active watcher while deliveries go on; the standby takes over within the lease time and each order is archived once", async () => {
  const { tdb, seeded, courier, pending } = await _setup("ha_kill");
  await using _db = tdb;
  await using dir = await tempDir();
  const pair = await _startPair(tdb.uri, tdb.dbName, dir.path);
  try {
    await eventually(
      async () => (await _active(tdb.db, pair)) !== undefined,
      STARTUP_MS,
      "a holder",
    );
    const active = (await _active(tdb.db, pair))!;
    const standby = 1 - active;
    await pair.watchers[active]!.waitFor(/Change Stream opened successfully/, 15_000);
    await pair.watchers[standby]!.waitFor(/Standby: another watcher holds the lease/, 5_000);
    assert.equal(await _role(pair.dirs[standby]!), "standby");
    // The role through the metrics server: /readyz 200 for both, /healthz and the role gauge.
    for (const [i, role] of [[active, "active"], [standby, "standby"]] as const) {
      const port = pair.ports[i]!;
      await eventually(async () => (await _probe(port, "/readyz")).status === 200, 5_000, "ready");
      const health = await _probe(port, "/healthz");
      assert.equal(JSON.parse(health.body).role, role);
      assert.equal(health.status, role === "active" ? 200 : 503);
      const metrics = await _probe(port, "/metrics");
      assert.match(metrics.body, new RegExp(`archiver_watch_role\\{role="${role}"\\} 1`));
    }
    const producer = _producer(tdb.db, pending, courier);
    const epochs = _epochWatch(tdb.db);
    await sleep(800);
    const before = await _lease(tdb.db);
    await pair.watchers[active]!.stop("SIGKILL");
    const killedAt = performance.now();
    await pair.watchers[standby]!.waitFor(/Lease taken \(epoch 2\)/, TTL_MS + 6_000);
    const takeover = performance.now() - killedAt;
    // The lease runs out at most TTL after the last renewal; the standby tries every RENEW_MS.
    assert.ok(takeover < TTL_MS + RENEW_MS + 1_500, `took over after ${takeover} ms`);
    assert.equal((await _lease(tdb.db))?.epoch, before!.epoch + 1);
    await sleep(1_000);
    await producer.stop();
    const delivered = [...seeded.complete, ...producer.delivered];
    await _allArchived(tdb.db, delivered);
    assertEachOnce(
      (await tdb.db.collection("Historique").find({}).toArray()).map((d) => d.numero_commande)
        .sort(),
      delivered,
    );
    await assertArchivedOrQuarantined(tdb.db);
    assert.equal(await epochs.stop(), 2);
    await eventually(async () => (await _role(pair.dirs[standby]!)) === "active", 6_000, "role");
    const { code } = await pair.watchers[standby]!.stop("SIGTERM");
    assert.equal(code, 0, pair.watchers[standby]!.stderr());
    const released = await tdb.db.collection("archiver_leases").aggregate([
      { $project: { free: { $lte: ["$expires_at", "$$NOW"] } } },
    ]).toArray();
    assert.equal(released[0]?.free, true, "a clean stop releases the lease");
  } finally {
    for (const w of pair.watchers) await w.stop("SIGKILL").catch(() => {});
  }
});

Deno.test("watch --ha: the active watcher paused past its lease (SIGSTOP, SIGCONT) finds it lost, saves no token under its old epoch, and becomes standby", async () => {
  const { tdb, seeded, courier, pending } = await _setup("ha_pause");
  await using _db = tdb;
  await using dir = await tempDir();
  const pair = await _startPair(tdb.uri, tdb.dbName, dir.path);
  try {
    await eventually(
      async () => (await _active(tdb.db, pair)) !== undefined,
      STARTUP_MS,
      "a holder",
    );
    const active = (await _active(tdb.db, pair))!;
    const standby = 1 - active;
    await pair.watchers[active]!.waitFor(/Change Stream opened successfully/, 15_000);
    const producer = _producer(tdb.db, pending, courier);
    const epochs = _epochWatch(tdb.db);
    await sleep(600);
    pair.watchers[active]!.child.kill("SIGSTOP");
    try {
      await pair.watchers[standby]!.waitFor(/Lease taken \(epoch 2\)/, TTL_MS + 6_000);
      await pair.watchers[standby]!.waitFor(/Change Stream opened successfully/, 10_000);
      await sleep(1_000); // the new holder saves tokens under epoch 2
      assert.equal(await _tokenEpoch(tdb.db), 2);
    } finally {
      pair.watchers[active]!.child.kill("SIGCONT");
    }
    await pair.watchers[active]!.waitFor(/Lease lost \(epoch 1\)/, 5_000);
    await eventually(async () => (await _role(pair.dirs[active]!)) === "standby", 8_000, "standby");
    await sleep(1_500);
    await producer.stop();
    const delivered = [...seeded.complete, ...producer.delivered];
    await _allArchived(tdb.db, delivered);
    await assertArchivedOrQuarantined(tdb.db);
    assert.equal(await epochs.stop(), 2, "every save after the takeover is epoch 2's");
    assert.equal((await _lease(tdb.db))?.holder.split(":")[1], String(pair.watchers[standby]!.pid));
    assert.equal(await _role(pair.dirs[active]!), "standby");
  } finally {
    for (const w of pair.watchers) await w.stop("SIGKILL").catch(() => {});
  }
});

Deno.test("watch --ha: a lease collection wiped while running is taken again at a higher epoch, and archiving goes on", async () => {
  const { tdb, seeded, courier, pending } = await _setup("ha_wiped");
  await using _db = tdb;
  await using dir = await tempDir();
  const pair = await _startPair(tdb.uri, tdb.dbName, dir.path);
  try {
    await eventually(
      async () => (await _active(tdb.db, pair)) !== undefined,
      STARTUP_MS,
      "a holder",
    );
    const active = (await _active(tdb.db, pair))!;
    await pair.watchers[active]!.waitFor(/Change Stream opened successfully/, 15_000);
    const producer = _producer(tdb.db, pending, courier);
    const epochs = _epochWatch(tdb.db);
    await sleep(800);
    await tdb.db.collection("archiver_leases").drop();
    await pair.watchers[active]!.waitFor(/Lease lost \(epoch 1\)/, RENEW_MS + 3_000);
    await eventually(
      async () => ((await _lease(tdb.db))?.epoch ?? 0) >= 2,
      TTL_MS + 5_000,
      "the lease taken again after the wipe",
    );
    await sleep(1_500);
    await producer.stop();
    const delivered = [...seeded.complete, ...producer.delivered];
    await _allArchived(tdb.db, delivered);
    await assertArchivedOrQuarantined(tdb.db);
    const roles = [await _role(pair.dirs[0]!), await _role(pair.dirs[1]!)].sort();
    assert.deepEqual(roles, ["active", "standby"]);
    assert.ok((await epochs.stop()) >= 2);
  } finally {
    for (const w of pair.watchers) await w.stop("SIGKILL").catch(() => {});
  }
});

Deno.test({
  name:
    "watch --ha with the two hosts' clocks 20 minutes apart: one holder at a time, and each takes over from the other within the lease time",
  ignore: !_hasFaketime() && !Deno.env.get("CI"),
  fn: async () => {
    assert.ok(_hasFaketime(), `${LIBFAKETIME} is missing: apt-get install faketime`);
    const { tdb, seeded, courier, pending } = await _setup("ha_clocks");
    await using _db = tdb;
    await using dir = await tempDir();
    // One host 10 minutes ahead, the other 10 minutes behind. By its own clock, the one ahead
    // would find every lease long expired and steal it; the one behind would wait 20 minutes
    // to take over from a dead holder.
    const envs = [_clockOffset("+10m"), _clockOffset("-10m")];
    const pair = await _startPair(tdb.uri, tdb.dbName, dir.path, envs);
    try {
      await eventually(
        async () => (await _active(tdb.db, pair)) !== undefined,
        STARTUP_MS,
        "holder",
      );
      const producer = _producer(tdb.db, pending, courier);
      const epochs = _epochWatch(tdb.db);
      for (let round = 1; round <= 2; round++) {
        const active = (await _active(tdb.db, pair))!;
        const standby = 1 - active;
        await pair.watchers[active]!.waitFor(/Change Stream opened successfully/, 15_000);
        // Two lease lifetimes: the standby must not take a lease that is being renewed.
        const holder = (await _lease(tdb.db))!;
        await sleep(2 * TTL_MS);
        assert.deepEqual(await _lease(tdb.db), holder, `round ${round}: no lease stolen`);
        assert.equal(await _role(pair.dirs[standby]!), "standby");
        await pair.watchers[active]!.stop("SIGKILL");
        const killedAt = performance.now();
        await eventually(
          async () => (await _active(tdb.db, pair)) === standby,
          TTL_MS + 6_000,
          `round ${round}: the standby takes over`,
        );
        const takeover = performance.now() - killedAt;
        assert.ok(takeover < TTL_MS + RENEW_MS + 1_500, `round ${round}: ${takeover} ms`);
        assert.equal((await _lease(tdb.db))?.epoch, holder.epoch + 1);
        // The killed host comes back (with its lying clock) and waits as standby.
        pair.watchers[active] = _startWatcherAt(
          tdb.uri,
          tdb.dbName,
          pair.dirs[active]!,
          pair.ports[active]!,
          envs[active],
        );
        await pair.watchers[active]!.waitFor(/Standby: another watcher holds the lease/, 15_000);
      }
      await producer.stop();
      const delivered = [...seeded.complete, ...producer.delivered];
      await _allArchived(tdb.db, delivered);
      assertEachOnce(
        (await tdb.db.collection("Historique").find({}).toArray()).map((d) => d.numero_commande)
          .sort(),
        delivered,
      );
      await assertArchivedOrQuarantined(tdb.db);
      assert.equal(await epochs.stop(), 3, "two takeovers, no save under an old epoch");
    } finally {
      for (const w of pair.watchers) await w.stop("SIGKILL").catch(() => {});
    }
  },
});

Deno.test("watch --ha without --token-store mongo stops at once with exit 2 and one line", async () => {
  await using dir = await tempDir();
  const watcher = startWatcher("mongodb://127.0.0.1:9", "db", dir.path, ["--ha"]);
  try {
    assert.equal(await watcher.exited, 2, watcher.stderr());
    assert.match(watcher.stderr(), /--ha needs --token-store mongo/);
  } finally {
    await watcher.stop("SIGKILL").catch(() => {});
  }
});
